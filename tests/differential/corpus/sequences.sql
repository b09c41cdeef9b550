-- Sequences: CREATE / ALTER SEQUENCE options and errors, nextval / currval / setval.
CREATE SEQUENCE sequence_testx INCREMENT BY 0;
CREATE SEQUENCE sequence_testx INCREMENT BY -1 MINVALUE 20;
CREATE SEQUENCE sequence_testx INCREMENT BY 1 MAXVALUE -20;
CREATE SEQUENCE sequence_testx INCREMENT BY -1 START 10;
CREATE SEQUENCE sequence_testx INCREMENT BY 1 START -10;
CREATE SEQUENCE sequence_testx CACHE 0;
CREATE SEQUENCE sequence_test5 AS integer;
CREATE SEQUENCE sequence_test6 AS smallint;
CREATE SEQUENCE sequence_test7 AS bigint;
CREATE SEQUENCE sequence_test8 AS integer MAXVALUE 100000;
CREATE SEQUENCE sequence_test9 AS integer INCREMENT BY -1;
CREATE SEQUENCE sequence_test10 AS integer MINVALUE -100000 START 1;
CREATE SEQUENCE sequence_test11 AS smallint;
CREATE SEQUENCE sequence_test12 AS smallint INCREMENT -1;
CREATE SEQUENCE sequence_test13 AS smallint MINVALUE -32768;
CREATE SEQUENCE sequence_test14 AS smallint MAXVALUE 32767 INCREMENT -1;
CREATE SEQUENCE sequence_testx AS text;
CREATE SEQUENCE sequence_testx AS nosuchtype;
CREATE SEQUENCE sequence_testx AS smallint MAXVALUE 100000;
CREATE SEQUENCE sequence_testx AS smallint MINVALUE -100000;
ALTER SEQUENCE sequence_test5 AS smallint;  -- success, max will be adjusted
ALTER SEQUENCE sequence_test8 AS smallint;  -- fail, max has to be adjusted
ALTER SEQUENCE sequence_test8 AS smallint MAXVALUE 20000;  -- ok now
ALTER SEQUENCE sequence_test9 AS smallint;  -- success, min will be adjusted
ALTER SEQUENCE sequence_test10 AS smallint;  -- fail, min has to be adjusted
ALTER SEQUENCE sequence_test10 AS smallint MINVALUE -20000;  -- ok now
ALTER SEQUENCE sequence_test11 AS int;  -- max will be adjusted
ALTER SEQUENCE sequence_test12 AS int;  -- min will be adjusted
ALTER SEQUENCE sequence_test13 AS int;  -- min and max will be adjusted
ALTER SEQUENCE sequence_test14 AS int;  -- min and max will be adjusted
CREATE SEQUENCE foo_seq;
ALTER TABLE foo_seq RENAME TO foo_seq_new;
SELECT nextval('foo_seq_new');
SELECT nextval('foo_seq_new');
ALTER SEQUENCE foo_seq_new RENAME TO foo_seq2;
SELECT nextval('foo_seq2'), currval('foo_seq2'::regclass);
DROP SEQUENCE foo_seq2;
CREATE UNLOGGED SEQUENCE sequence_test_unlogged;
ALTER SEQUENCE sequence_test_unlogged SET LOGGED;
ALTER SEQUENCE sequence_test_unlogged SET UNLOGGED;
ALTER SEQUENCE nope SET UNLOGGED;
DROP SEQUENCE sequence_test_unlogged;
CREATE SEQUENCE sequence_test2 START WITH 32;
ALTER SEQUENCE sequence_test2 RESTART WITH 24 INCREMENT BY 4 MAXVALUE 36 MINVALUE 5 CYCLE;
SELECT nextval('sequence_test2'), nextval('sequence_test2'), nextval('sequence_test2'), nextval('sequence_test2'), nextval('sequence_test2');
ALTER SEQUENCE sequence_test2 MAXVALUE 40;
SELECT nextval('sequence_test2');
ALTER SEQUENCE sequence_test2 RESTART WITH 1;
SELECT setval('sequence_test2', 100);
SELECT nextval('sequence_test2'::regclass);
CREATE TABLE st (a serial, b text);
ALTER TABLE st_a_seq RENAME TO st_a_seq2;
ALTER SEQUENCE st_a_seq RESTART WITH 10;
INSERT INTO st (b) VALUES ('x') RETURNING a;
ALTER SEQUENCE st RESTART;
CREATE SEQUENCE s5 AS smallint;
SELECT nextval('s5');
ALTER SEQUENCE s5 AS integer;
CREATE SEQUENCE s6 INCREMENT BY -2 MAXVALUE 3;
SELECT nextval('s6'), nextval('s6'), currval('s6');
SELECT currval('nope');
CREATE SEQUENCE s7;
SELECT currval('s7');
CREATE TABLE st2 (a serial, b text);
CREATE INDEX st2_b ON st2 (b);
INSERT INTO st2 (b) VALUES ('x');
ALTER SEQUENCE st2_a_seq INCREMENT BY 10;
INSERT INTO st2 (b) VALUES ('y');
ALTER SEQUENCE st2_a_seq RENAME TO st2_seq;
INSERT INTO st2 (b) VALUES ('z');
SELECT * FROM st2 ORDER BY a;
SELECT column_default FROM information_schema.columns WHERE table_name = 'st2' AND column_name = 'a';
SELECT nextval('st2_seq');
CREATE SCHEMA sq;
CREATE SEQUENCE sq.s1 START 5;
SELECT nextval('sq.s1');
ALTER SEQUENCE sq.s1 INCREMENT 5;
SELECT nextval('sq.s1');
ALTER SEQUENCE sq.s1 RENAME TO s2;
SELECT nextval('sq.s2');
BEGIN;
ALTER SEQUENCE sq.s2 RESTART WITH 100 MAXVALUE 200;
SELECT nextval('sq.s2');
ROLLBACK;
SELECT nextval('sq.s2');
SELECT nextval('sequence_test5'), nextval('sequence_test9'), nextval('sequence_test14');
ALTER SEQUENCE sequence_test9 RESTART WITH -5 NO CYCLE;
SELECT nextval('sequence_test9'), currval('sequence_test9');
CREATE SEQUENCE seq_max MAXVALUE 2;
SELECT nextval('seq_max'), nextval('seq_max');
SELECT nextval('seq_max');
CREATE SEQUENCE seq_desc INCREMENT BY -1 MINVALUE -2 MAXVALUE -1;
SELECT nextval('seq_desc'), nextval('seq_desc');
SELECT nextval('seq_desc');
SELECT setval('seq_desc', -1, false), nextval('seq_desc');
SELECT lastval();
CREATE SEQUENCE lv_seq;
SELECT nextval('lv_seq');
SELECT lastval();
SELECT setval('lv_seq', 99);
SELECT lastval();
DISCARD ALL;
SELECT lastval();
CREATE SEQUENCE lv_seq2;
SELECT nextval('lv_seq2');
SELECT lastval();
SELECT nextval('lv_seq'), lastval();
CREATE SEQUENCE is_seq8 AS integer MAXVALUE 100000;
ALTER SEQUENCE is_seq8 AS smallint MAXVALUE 20000;
CREATE SEQUENCE is_seq2 START WITH 32;
CREATE TABLE is_serial (f1 text, f2 serial, f3 smallserial, f4 serial2, f5 bigserial, f6 serial8);
ALTER TABLE is_serial_f2_seq RENAME TO is_serial_f2_foo;
SELECT sequence_schema, sequence_name, data_type, numeric_precision, numeric_precision_radix, numeric_scale, start_value, minimum_value, maximum_value, increment, cycle_option FROM information_schema.sequences WHERE sequence_name LIKE 'is\_%' ORDER BY sequence_name;
SELECT schemaname, sequencename, data_type, start_value, min_value, max_value, increment_by, cycle, cache_size, last_value FROM pg_sequences WHERE sequencename LIKE 'is\_%' ORDER BY sequencename;
