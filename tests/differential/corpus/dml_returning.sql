-- RETURNING lists DuckDB cannot run in place: subqueries, an UPDATE's FROM items, a
-- DELETE's USING items, `*` over all of them.
CREATE TABLE rf (f1 int, f2 text, f3 int DEFAULT 42);
CREATE TABLE rk (k int, label text);
INSERT INTO rf VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 30);
INSERT INTO rk VALUES (1, 'k1'), (3, 'k3'), (7, 'k7');
INSERT INTO rf SELECT f1 + 10, f2, f3 + 1 FROM rf WHERE f1 < 3 RETURNING *, f1 - 10 IN (SELECT k FROM rk) AS known, EXISTS (SELECT 1 FROM rk WHERE k = 7) AS seven;
UPDATE rf SET f3 = f3 * 2 WHERE f1 > 10 RETURNING f1, (SELECT label FROM rk WHERE k = f1 - 10) AS label;
DELETE FROM rf WHERE f1 = 12 RETURNING f2, (SELECT count(*) FROM rk) AS n;
UPDATE rf SET f3 = f3 + 1 FROM rk WHERE rf.f1 = rk.k RETURNING rf.*, rk.label;
UPDATE rf AS r SET f2 = upper(f2) FROM rk k WHERE r.f1 = k.k RETURNING *;
UPDATE rf AS r SET f2 = lower(f2) FROM rk k WHERE r.f1 = k.k RETURNING r.f1, k;
UPDATE rf SET f3 = 0 FROM rk WHERE rf.f1 + 100 = rk.k RETURNING rf.f1, rk.k;
SELECT * FROM rf ORDER BY f1;
DELETE FROM rf USING rk WHERE rf.f1 = rk.k AND rk.k = 3 RETURNING *;
DELETE FROM rf USING rk k WHERE rf.f1 = k.k RETURNING rf.f2, k.label, (SELECT max(k) FROM rk) AS top;
SELECT * FROM rf ORDER BY f1;
WITH moved AS (DELETE FROM rf WHERE f1 > 10 RETURNING f1, f2) SELECT f1, f2 FROM moved ORDER BY f1;
WITH n AS (SELECT 5 AS v) INSERT INTO rf VALUES (5, 'five') RETURNING f1, (SELECT v FROM n) AS v, f3;
SELECT * FROM rf ORDER BY f1;
