-- Window functions.
CREATE TABLE s (g text, x int, y int);
INSERT INTO s VALUES ('a', 1, 10), ('a', 2, 20), ('a', 3, 20), ('b', 1, 5), ('b', 2, NULL), ('c', 7, 7);
SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY x) FROM s ORDER BY g, x;
SELECT g, y, rank() OVER (ORDER BY y), dense_rank() OVER (ORDER BY y) FROM s ORDER BY y NULLS LAST, g, x;
SELECT g, x, sum(x) OVER (PARTITION BY g) FROM s ORDER BY g, x;
SELECT g, x, sum(x) OVER (PARTITION BY g ORDER BY x) FROM s ORDER BY g, x;
SELECT g, x, sum(y) OVER (ORDER BY g, x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM s ORDER BY g, x;
SELECT g, y, sum(x) OVER (ORDER BY y) FROM s ORDER BY g, x;
SELECT g, y, count(*) OVER (ORDER BY y RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM s ORDER BY g, x;
SELECT g, x, lag(x) OVER (PARTITION BY g ORDER BY x), lead(x, 1, -1) OVER (PARTITION BY g ORDER BY x) FROM s ORDER BY g, x;
SELECT g, x, first_value(y) OVER w, last_value(y) OVER w FROM s WINDOW w AS (PARTITION BY g ORDER BY x) ORDER BY g, x;
SELECT g, x, last_value(y) OVER (PARTITION BY g ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM s ORDER BY g, x;
SELECT g, x, nth_value(x, 2) OVER (PARTITION BY g ORDER BY x) FROM s ORDER BY g, x;
SELECT g, x, ntile(2) OVER (ORDER BY g, x) FROM s ORDER BY g, x;
SELECT g, x, percent_rank() OVER (ORDER BY g, x), cume_dist() OVER (ORDER BY g, x) FROM s ORDER BY g, x;
SELECT g, avg(x) OVER (PARTITION BY g) FROM s ORDER BY g, x;
SELECT g, x, count(y) OVER (PARTITION BY g) FROM s ORDER BY g, x;
SELECT * FROM (SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY x DESC) AS rn FROM s) q WHERE rn = 1 ORDER BY g;
SELECT g, sum(x), sum(sum(x)) OVER () FROM s GROUP BY g ORDER BY g;
SELECT g, x, max(y) OVER (PARTITION BY g ORDER BY x ROWS 1 PRECEDING) FROM s ORDER BY g, x;
SELECT x, y, sum(x) OVER (ORDER BY x, y GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM s ORDER BY x, y;
SELECT g, x, sum(x) OVER (PARTITION BY g ORDER BY x ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING EXCLUDE CURRENT ROW) FROM s ORDER BY g, x;
SELECT g, x, array_agg(x) OVER (PARTITION BY g ORDER BY x) FROM s ORDER BY g, x;
SELECT g, x, row_number() OVER () > 0 FROM s ORDER BY g, x;
SELECT count(*) OVER (), g FROM s ORDER BY g LIMIT 2;
SELECT g, x, sum(x) FILTER (WHERE y > 5) OVER (PARTITION BY g) FROM s ORDER BY g, x;
SELECT row_number() OVER (ORDER BY x) FROM s WHERE row_number() OVER (ORDER BY x) > 1;
-- frames PostgreSQL checks before it runs the query
CREATE TABLE wf (id int, d date, v int);
INSERT INTO wf VALUES (1, '2024-01-01', 10), (2, '2024-01-02', 20), (3, '2024-01-05', 30);
SELECT id, sum(v) OVER (ORDER BY id ROWS BETWEEN id PRECEDING AND CURRENT ROW) FROM wf;
SELECT id, sum(v) OVER (ORDER BY id ROWS BETWEEN (SELECT min(id) FROM wf) PRECEDING AND CURRENT ROW) FROM wf ORDER BY id;
SELECT id, sum(v) OVER (PARTITION BY id GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM wf;
SELECT count() FROM wf;
SELECT nth_value(v, 0) OVER (ORDER BY id) FROM wf;
SELECT nth_value(v, -1) OVER (ORDER BY id) FROM wf;
SELECT id, nth_value(v, 2) OVER (ORDER BY id) FROM wf ORDER BY id;
SELECT id, count(*) OVER (ORDER BY d RANGE BETWEEN '1 day' PRECEDING AND '2 days' FOLLOWING) FROM wf ORDER BY id;
SELECT id, sum(v) OVER (ORDER BY id RANGE BETWEEN '1' PRECEDING AND CURRENT ROW) FROM wf ORDER BY id;
SELECT id, rank() OVER w FROM wf WINDOW w AS (ORDER BY v DESC) ORDER BY rank() OVER w;
-- lag/lead with a default of another type: their common type (an integer and a numeric: numeric)
CREATE TABLE lagt (i int, f float8, n numeric, b bigint);
INSERT INTO lagt VALUES (1, 1.5, 2.25, 10), (2, 0.1, 3, 20);
SELECT i, lag(i, 1, 0.7) OVER (ORDER BY i), lag(f, 1, 0.7) OVER (ORDER BY i), lag(n, 1, 0.5) OVER (ORDER BY i), lead(b, 1, 1.5) OVER (ORDER BY i) FROM lagt ORDER BY i;
SELECT i, lag(i, 1, 2.5::float8) OVER (ORDER BY i), lag(n, 1, 2.5::float8) OVER (ORDER BY i), lag(i, 1, 7::bigint) OVER (ORDER BY i), lag(f, 1, 3) OVER (ORDER BY i) FROM lagt ORDER BY i;
SELECT i, lag(i, 1, 1.5::float4) OVER (ORDER BY i), lead(i * 2, 1, -1.4) OVER (ORDER BY i), lag(i, 1, 0) OVER (ORDER BY i), lag(i, 1, 0.5) OVER w FROM lagt WINDOW w AS (ORDER BY i) ORDER BY i;
SELECT pg_typeof(lag(i, 1, 0.7) OVER (ORDER BY i)), pg_typeof(lag(i, 1, 0.7::float4) OVER ()) FROM lagt;
SELECT lag(i, 1, 'x') OVER (ORDER BY i) FROM lagt;
-- RANGE offsets over floats with infinities and NaN among the values; a NaN offset is 22013,
-- an infinite one is refused (0A000)
CREATE TABLE rf (id int, f4 float4, f8 float8);
INSERT INTO rf VALUES (0, '-infinity', '-infinity'), (1, -3, -3), (2, -1, -1), (3, 0, 0), (4, 1.1, 1.1), (5, 1.12, 1.12), (6, 2, 2), (7, 100, 100), (8, 'infinity', 'infinity'), (9, 'NaN', 'NaN');
SELECT id, f4, first_value(id) OVER w, last_value(id) OVER w FROM rf WINDOW w AS (ORDER BY f4 RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) ORDER BY id;
SELECT id, f4, first_value(id) OVER w, last_value(id) OVER w FROM rf WINDOW w AS (ORDER BY f4 RANGE BETWEEN 1 PRECEDING AND 1.1::float4 FOLLOWING) ORDER BY id;
SELECT id, f8, first_value(id) OVER w, last_value(id) OVER w FROM rf WINDOW w AS (ORDER BY f8 DESC RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) ORDER BY id;
SELECT id, f4, first_value(id) OVER w FROM rf WINDOW w AS (ORDER BY f4 RANGE BETWEEN 1.1 PRECEDING AND 'NaN' FOLLOWING);
SELECT id, f8, first_value(id) OVER w FROM rf WINDOW w AS (ORDER BY f8 RANGE BETWEEN 'inf' FOLLOWING AND 'inf' FOLLOWING);
-- RANGE offsets over times, times with zones (written with zone abbreviations), intervals and timestamps
CREATE TABLE rdt (id int, t time, tz timetz, iv interval, ts timestamp, tstz timestamptz);
INSERT INTO rdt VALUES (1, '11:00', '11:00 BST', '1 year', '2000-10-19 10:23:54', '2000-10-19 10:23:54+01'), (2, '12:00', '12:00+01', '2 years', '2001-10-19 10:23:54', '2001-10-19 10:23:54+01'), (3, '13:30', '13:30 BST', '3 years', '2002-11-19 10:23:54', '2002-11-19 10:23:54+01'), (4, '14:00', '14:00:00+01', '5 years', '2003-10-19 10:23:54', '2003-10-19 10:23:54+01'), (5, '17:00', '17:00 CET', '8 years', '2005-10-19 10:23:54', '2005-10-19 10:23:54+01');
SELECT id, t, first_value(id) OVER w, last_value(id) OVER w FROM rdt WINDOW w AS (ORDER BY t RANGE BETWEEN '70 min'::interval PRECEDING AND '2 hours'::interval FOLLOWING) ORDER BY id;
SELECT id, t, first_value(id) OVER w, last_value(id) OVER w FROM rdt WINDOW w AS (ORDER BY t DESC RANGE BETWEEN '70 min' PRECEDING AND '2 hours' FOLLOWING) ORDER BY id;
SELECT id, tz, first_value(id) OVER w, last_value(id) OVER w FROM rdt WINDOW w AS (ORDER BY tz RANGE BETWEEN '70 min'::interval PRECEDING AND '2 hours'::interval FOLLOWING) ORDER BY id;
SELECT id, iv, first_value(id) OVER w, last_value(id) OVER w FROM rdt WINDOW w AS (ORDER BY iv RANGE BETWEEN '1 year'::interval PRECEDING AND '1 year'::interval FOLLOWING) ORDER BY id;
SELECT id, ts, first_value(id) OVER w, last_value(id) OVER w FROM rdt WINDOW w AS (ORDER BY ts DESC RANGE BETWEEN '1 year' PRECEDING AND '1 year' FOLLOWING) ORDER BY id;
SELECT id, tstz, first_value(id) OVER w, last_value(id) OVER w FROM rdt WINDOW w AS (ORDER BY tstz RANGE BETWEEN '1 year'::interval PRECEDING AND '1 year'::interval FOLLOWING) ORDER BY id;
SELECT '11:00 BST'::timetz, '11:00 EST'::timetz, '11:00+01'::timetz, '12:30 pm PST'::timetz, time with time zone '01:02:03.5-0530';
