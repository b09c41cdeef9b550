-- Inheritance between temporary tables.
CREATE TEMP TABLE tp (f1 int, f2 text DEFAULT 'p');
INSERT INTO tp VALUES (1, 'one');
CREATE TEMP TABLE tc (fc int) INHERITS (tp);
INSERT INTO tc VALUES (2, 'two', 20);
INSERT INTO tc (f1, fc) VALUES (3, 30);
SELECT * FROM tp ORDER BY f1;
SELECT * FROM ONLY tp ORDER BY f1;
SELECT * FROM tc ORDER BY f1;
SELECT count(*) FROM tp WHERE f2 = 'p';
DROP TABLE tc;
SELECT * FROM tp ORDER BY f1;
