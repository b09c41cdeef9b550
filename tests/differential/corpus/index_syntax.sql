-- Index and table syntax of PostgreSQL's storage that DuckDB need not know.
CREATE UNLOGGED TABLE ix_t (a int, b text, c int);
INSERT INTO ix_t VALUES (1, 'x', 1), (2, 'y', 2);
CREATE INDEX ix_ops ON ix_t (a int4_ops, b text_pattern_ops);
CREATE INDEX CONCURRENTLY ix_conc ON ix_t (c);
CREATE UNIQUE INDEX ix_incl ON ix_t (a) INCLUDE (b);
INSERT INTO ix_t VALUES (1, 'dup', 3);
CREATE UNIQUE INDEX ON ix_t (c);
SELECT indexname FROM pg_indexes WHERE tablename = 'ix_t' ORDER BY 1;
INSERT INTO ix_t VALUES (3, 'z', 2);
DROP INDEX CONCURRENTLY ix_conc;
DROP INDEX ix_t_c_idx;
ALTER TABLE ix_t ADD CONSTRAINT ix_pos CHECK (a > 0) NOT VALID;
ALTER TABLE ix_t VALIDATE CONSTRAINT ix_pos;
ALTER TABLE ix_t VALIDATE CONSTRAINT ix_missing;
INSERT INTO ix_t VALUES (-1, 'neg', 9);
SELECT * FROM ix_t ORDER BY a;
DROP TABLE ix_t;
