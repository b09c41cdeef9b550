-- numeric's text: the scale PostgreSQL prints (a typmod's, or the value's own).
SELECT 1.5::numeric, 1.50::numeric, 2::numeric, (-0.125)::numeric, 10.0::numeric;
SELECT 1.5::numeric(10,3), 2::numeric(5,2), 1.2345::numeric(6,2), 12345.678::numeric(8,1);
SELECT CAST('3.14159' AS numeric), CAST('7' AS numeric), '0.10'::numeric;
SELECT 1.5::decimal, 1.5::decimal(4,2), CAST(2.25 AS decimal(3,1));
CREATE TABLE ns (id int, a numeric, b numeric(8,2), c decimal(5,0), d numeric(12,4));
INSERT INTO ns VALUES (1, 1.5, 1.5, 1.5, 1.5), (2, 2, 2, 2, 2), (3, 0.001, 12.345, 99999, -3.14159);
SELECT * FROM ns ORDER BY id;
SELECT b + d, b * 2, a + 1, sum(b) OVER (ORDER BY id) FROM ns ORDER BY id;
SELECT sum(b), max(d), min(a) FROM ns;
SELECT 1.5::numeric + 1, 0.1::numeric * 3, 10::numeric / 4;
SELECT round(2.567::numeric, 2), round(2.5::numeric), trunc(2.567::numeric, 1);
-- bare numeric keeps its digits (not DuckDB's DECIMAL(18,3)); numeric division and avg
CREATE TABLE nb (id int, v numeric);
INSERT INTO nb VALUES (1, 0.123456789), (2, 12345678.5), (3, -7), (4, NULL);
SELECT id, v, v / 3, v * 2, v + 0.5 FROM nb ORDER BY id;
SELECT avg(v), avg(v) FILTER (WHERE id < 3), avg(DISTINCT id), sum(v), max(v) FROM nb;
SELECT id, avg(v) OVER (ORDER BY id), avg(id) OVER () FROM nb ORDER BY id;
SELECT 1::numeric / 3, 2::numeric / 3, 0::numeric / 5, 100000::numeric / 3, -7::numeric / 2;
SELECT 1 / 0::numeric;
SELECT pg_typeof(7 / 2), pg_typeof(7.0 / 2), pg_typeof(1::real / 2::real), pg_typeof(avg(1.5::float8));
SELECT 7 / 2, -7 / 2, 7::int8 / 2, 7.5::float8 / 2, 1::real / 4::real, (SELECT max(id) FROM nb) / 2;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'nb'::regclass AND attname = 'v';
SELECT v::numeric(10,2), (v / 7)::numeric(12,4) FROM nb WHERE id = 2;
