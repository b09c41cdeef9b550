-- WITH queries, recursive CTEs, data-modifying CTEs.
CREATE TABLE tree (id int PRIMARY KEY, parent int, name text);
INSERT INTO tree VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'a1'), (5, 4, 'a1x');
WITH x AS (SELECT 1 AS n) SELECT n FROM x;
WITH x(n) AS (SELECT 1 UNION ALL SELECT 2) SELECT sum(n) FROM x;
WITH a AS (SELECT 1 AS v), b AS (SELECT v + 1 AS v FROM a) SELECT * FROM a, b;
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r ORDER BY n;
WITH RECURSIVE r(n, f) AS (SELECT 1, 1::bigint UNION ALL SELECT n + 1, f * (n + 1) FROM r WHERE n < 10) SELECT n, f FROM r ORDER BY n;
WITH RECURSIVE sub AS (
  SELECT id, name, 0 AS depth FROM tree WHERE id = 1
  UNION ALL
  SELECT t.id, t.name, s.depth + 1 FROM tree t JOIN sub s ON t.parent = s.id
) SELECT * FROM sub ORDER BY depth, id;
WITH RECURSIVE path(id, p) AS (
  SELECT id, name FROM tree WHERE parent IS NULL
  UNION ALL
  SELECT t.id, path.p || '/' || t.name FROM tree t JOIN path ON t.parent = path.id
) SELECT p FROM path ORDER BY p;
WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT n % 3 + 1 FROM r) SELECT n FROM r ORDER BY n;
WITH RECURSIVE up(id, parent) AS (
  SELECT id, parent FROM tree WHERE id = 5
  UNION ALL
  SELECT t.id, t.parent FROM tree t JOIN up ON t.id = up.parent
) SELECT count(*) FROM up;
WITH w AS MATERIALIZED (SELECT * FROM tree) SELECT count(*) FROM w;
WITH w AS NOT MATERIALIZED (SELECT * FROM tree WHERE id > 2) SELECT name FROM w ORDER BY id;
WITH d AS (DELETE FROM tree WHERE id = 5 RETURNING name) SELECT name FROM d;
WITH i AS (INSERT INTO tree VALUES (6, 3, 'b1') RETURNING id) SELECT id FROM i;
WITH u AS (UPDATE tree SET name = upper(name) WHERE parent = 1 RETURNING id, name) SELECT * FROM u ORDER BY id;
SELECT id, name FROM tree ORDER BY id;
WITH x AS (SELECT 1) SELECT * FROM x, x;
WITH x AS (SELECT 1 AS a) SELECT * FROM x AS x1 JOIN x AS x2 USING (a);
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r LIMIT 5;
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT sum(n) FROM (SELECT n FROM r LIMIT 10) s;
