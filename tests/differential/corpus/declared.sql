-- What a table's declaration says: defaults for the columns an INSERT leaves out, the
-- character types information_schema reports.
CREATE TABLE dw (a int, b int DEFAULT 5, c text DEFAULT 'x', d timestamp);
INSERT INTO dw VALUES (1);
INSERT INTO dw VALUES (2, 3), (4, 6) RETURNING *;
INSERT INTO dw VALUES (7, 8, 'y');
INSERT INTO dw AS w VALUES (9) RETURNING w.a, w.b;
INSERT INTO dw VALUES (1, 2, 'z', '2024-01-01', 5);
INSERT INTO dw SELECT 10;
SELECT * FROM dw ORDER BY a, b;
CREATE TABLE dk (k text PRIMARY KEY, v int DEFAULT 0, n int);
INSERT INTO dk VALUES ('a') ON CONFLICT (k) DO NOTHING;
INSERT INTO dk VALUES ('a') ON CONFLICT (k) DO UPDATE SET v = dk.v + 1;
SELECT * FROM dk;
CREATE TABLE dt (id int, v varchar(20), c char(3), t text, e varchar, n numeric(10,2), ch character(5), cv character varying(8));
ALTER TABLE dt ADD COLUMN x varchar(7), ADD COLUMN y text;
ALTER TABLE dt ALTER COLUMN v TYPE varchar(30);
SELECT column_name, data_type, character_maximum_length, character_octet_length, udt_name FROM information_schema.columns WHERE table_name = 'dt' ORDER BY ordinal_position;
SELECT column_name, numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = 'dt' AND data_type = 'numeric';
CREATE TEMP TABLE dtemp (a text, b varchar(3), c int DEFAULT 4);
INSERT INTO dtemp VALUES ('x');
ALTER TABLE dtemp ADD COLUMN d char(2);
SELECT * FROM dtemp;
