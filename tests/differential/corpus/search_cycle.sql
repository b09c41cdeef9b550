-- SEARCH DEPTH/BREADTH FIRST and CYCLE on recursive CTEs; array || row.
CREATE TABLE scg (f int, t int, label text);
INSERT INTO scg VALUES (1, 2, 'arc 1 -> 2'), (1, 3, 'arc 1 -> 3'), (2, 3, 'arc 2 -> 3'), (1, 4, 'arc 1 -> 4'), (4, 5, 'arc 4 -> 5'), (5, 1, 'arc 5 -> 1');
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g WHERE f <> 5 UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t AND g.f <> 5) SEARCH DEPTH FIRST BY f, t SET seq SELECT * FROM sg ORDER BY seq;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g WHERE f <> 5 UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t AND g.f <> 5) SEARCH BREADTH FIRST BY f, t SET seq SELECT * FROM sg ORDER BY seq;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g WHERE f <> 5 UNION DISTINCT SELECT g.* FROM scg g, sg WHERE g.f = sg.t AND g.f <> 5) SEARCH DEPTH FIRST BY f, t SET seq SELECT * FROM sg ORDER BY seq;
WITH RECURSIVE x AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM x) SEARCH DEPTH FIRST BY n SET s SELECT * FROM x LIMIT 4;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t) CYCLE f, t SET is_cycle USING path SELECT * FROM sg ORDER BY path;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t) CYCLE f, t SET is_cycle TO 'Y' DEFAULT 'N' USING path SELECT count(*), count(*) FILTER (WHERE is_cycle = 'Y') FROM sg;
WITH RECURSIVE x AS (SELECT 0 AS v UNION ALL SELECT (v + 1) % 4 FROM x) CYCLE v SET c USING p SELECT * FROM x;
WITH RECURSIVE a AS (SELECT 1 AS b UNION ALL SELECT * FROM a) CYCLE b SET c USING p SELECT * FROM a;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t) SEARCH DEPTH FIRST BY f, t SET seq CYCLE f, t SET is_cycle USING path SELECT * FROM sg ORDER BY seq;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t) SEARCH DEPTH FIRST BY f, nope SET seq SELECT * FROM sg;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t) SEARCH DEPTH FIRST BY f, t SET label SELECT * FROM sg;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t) CYCLE f SET is_cycle TO true DEFAULT 55 USING path SELECT * FROM sg;
WITH RECURSIVE sg(f, t, label) AS (SELECT * FROM scg g UNION ALL SELECT * FROM scg g UNION ALL SELECT g.* FROM scg g, sg WHERE g.f = sg.t) SEARCH DEPTH FIRST BY f, t SET seq SELECT * FROM sg;
WITH RECURSIVE sg(f, t, label, is_cycle, path) AS (SELECT *, false, ARRAY[ROW(g.f, g.t)] FROM scg g UNION ALL SELECT g.*, ROW(g.f, g.t) = ANY(path), path || ROW(g.f, g.t) FROM scg g, sg WHERE g.f = sg.t AND NOT is_cycle) SELECT * FROM sg ORDER BY path;
SELECT ARRAY[ROW(1, 2)] || ROW(3, 4), ROW(0, 0) || ARRAY[ROW(1, 2)];
