-- PostgreSQL's types of expressions (pg_typeof) and texts of values (x::text).
-- pg_typeof: literals, casts, and operators and functions over them, as PostgreSQL resolves them.
SELECT pg_typeof('a'), pg_typeof(NULL), pg_typeof(1), pg_typeof(3000000000), pg_typeof(10000000000000000000), pg_typeof(1.5), pg_typeof(true);
SELECT pg_typeof('a'::varchar(3)), pg_typeof('a'::char), pg_typeof('a'::char(3)), pg_typeof('a'::name), pg_typeof('a'::text), pg_typeof('a'::"char");
SELECT pg_typeof('{}'::jsonb), pg_typeof('{}'::json), pg_typeof('{}'::numeric[]), pg_typeof('{1}'::int[]), pg_typeof(ARRAY[1.5]::float4[]), pg_typeof(ARRAY['{}'::jsonb]);
SELECT pg_typeof(1::float(10)), pg_typeof(1::float), pg_typeof(1::double precision), pg_typeof(1::decimal(5,2)), pg_typeof('1'::int2);
SELECT pg_typeof('1 day'::interval), pg_typeof('10:00'::time), pg_typeof('10:00'::timetz), pg_typeof(now()::timestamp), pg_typeof(now()), pg_typeof(current_date);
SELECT pg_typeof(1.5::float4 + 1), pg_typeof(1::int2 + 1::int2), pg_typeof(1::int2 * 1::int8), pg_typeof(1.5::float4 * 2.5), pg_typeof(2 ^ 3), pg_typeof(2.0 ^ 3), pg_typeof(-1::int2);
SELECT pg_typeof('a' || 'b'), pg_typeof('a'::varchar || 'b'::varchar), pg_typeof(ARRAY[1, 2] || 3), pg_typeof('{"a": 1}'::jsonb -> 'a'), pg_typeof('[1]'::json -> 0), pg_typeof('{"a": 1}'::jsonb ->> 'a');
SELECT pg_typeof(DATE '2024-01-01' - DATE '2023-01-01'), pg_typeof(DATE '2024-01-01' + 1), pg_typeof(DATE '2024-01-01' + '1 day'::interval), pg_typeof(now() - '1 day'::interval), pg_typeof('1 day'::interval * 2);
SELECT pg_typeof(ARRAY[1, 2]), pg_typeof(ARRAY[[1, 2], [3, 4]]), pg_typeof(ARRAY['a', 'b']), pg_typeof(ARRAY[1, 2.5]), pg_typeof(ROW(1, 'a')), pg_typeof((ARRAY[1, 2])[1]), pg_typeof((ARRAY[1, 2])[1:2]);
SELECT pg_typeof(CASE WHEN true THEN 1 ELSE 2.5 END), pg_typeof(coalesce('a', 'b')), pg_typeof(greatest(1, 2::int8)), pg_typeof(nullif(1::int2, 2));
SELECT pg_typeof(length('a')), pg_typeof(upper('a')), pg_typeof(substr('abc', 1, 1)), pg_typeof(1 = 1), pg_typeof('1'::int + 1), pg_typeof(round(1.5)), pg_typeof(round(1.5::float8)), pg_typeof(round(1.5::float8 + 1));
SELECT pg_typeof(random()), pg_typeof(pi()), pg_typeof(sqrt(2)), pg_typeof(sqrt(2::numeric)), pg_typeof(floor(1.5)), pg_typeof(extract(year from now())), pg_typeof(date_part('year', now())), pg_typeof(log(10, 1000));
SELECT pg_typeof(to_char(now(), 'YYYY')), pg_typeof(gen_random_uuid()::text), pg_typeof(pg_typeof(1)), pg_typeof(to_jsonb(1)), pg_typeof(to_json(1)), pg_typeof(jsonb_build_object('a', 1)), pg_typeof(json_build_object('a', 1));
SELECT pg_typeof(B'101'), pg_typeof(current_user), pg_typeof(version()), pg_typeof(1 IS NULL), pg_typeof(1 IN (1, 2));
CREATE TABLE tt (a int2, b int4, c int8, d real, e float8, f numeric, g numeric(10,2), h text, n date, o timestamp, p timestamptz, q interval, r uuid, s bool, t text[], u int[], v numeric[], w time, m bytea);
INSERT INTO tt VALUES (1, 2, 3, 1.5, 2.5, 3.5, 4.5, 'h', '2024-01-01', '2024-01-01 10:00', '2024-01-01 10:00+00', '1 day', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, '{a,b}', '{1,2}', '{1.5}', '10:00', '\x01');
SELECT pg_typeof(a), pg_typeof(b), pg_typeof(c), pg_typeof(d), pg_typeof(e), pg_typeof(f), pg_typeof(g), pg_typeof(h) FROM tt;
SELECT pg_typeof(m), pg_typeof(n), pg_typeof(o), pg_typeof(p), pg_typeof(q), pg_typeof(r), pg_typeof(s), pg_typeof(t), pg_typeof(u), pg_typeof(v), pg_typeof(w) FROM tt;
SELECT pg_typeof(a + a), pg_typeof(a + b), pg_typeof(b + c), pg_typeof(e + b), pg_typeof(f + b), pg_typeof(f + e), pg_typeof(a / a), pg_typeof(b % c), pg_typeof(-a) FROM tt;
SELECT pg_typeof(count(*)), pg_typeof(sum(a)), pg_typeof(sum(b)), pg_typeof(sum(c)), pg_typeof(sum(d)), pg_typeof(avg(b)), pg_typeof(avg(e)), pg_typeof(max(h)), pg_typeof(array_agg(b)), pg_typeof(string_agg(h, ',')) FROM tt;
SELECT pg_typeof(length(h)), pg_typeof(upper(h)), pg_typeof(h || h), pg_typeof(n + 1), pg_typeof(o - o), pg_typeof(n + q), pg_typeof(p + q), pg_typeof(o::date), pg_typeof(u[1]) FROM tt;
-- known: a column's declared varchar, char, name or jsonb reads as DuckDB keeps it (text, json); real + integer columns add in real
CREATE TABLE tk (d real, b int, i varchar(5), j char(3), k jsonb, x name);
INSERT INTO tk VALUES (1.1, 2, 'i', 'j', '{"a": 1}', 'nm');
SELECT pg_typeof(i), pg_typeof(j), pg_typeof(k), pg_typeof(x), pg_typeof(k -> 'a') FROM tk;
SELECT pg_typeof(d + b), d + b, d * 2 FROM tk;
-- the text of a value: arrays, rows, bytea, floats and intervals as PostgreSQL prints them
SELECT ARRAY[1, 2]::text, ARRAY[[1, 2], [3, 4]]::text, ARRAY['a b', NULL, '', 'NULL', 'x,y', 'q"t', 'b\s']::text, ARRAY[true, false]::text, ARRAY[1.5::float8, 1e20]::text;
SELECT ROW(1, 'a', NULL)::text, ROW(ARRAY[1, 2], 'z w')::text, ROW('')::text, ROW(NULL)::text, ROW(true, 'q"t', 'b\s')::text;
SELECT ARRAY[ROW(1, 'a')]::text, ARRAY['\xdead'::bytea]::text, '\xdead'::bytea::text, ARRAY['1 month'::interval]::text, ARRAY[DATE '2024-01-01']::text;
SELECT ARRAY[1, 2]::varchar, ARRAY['a']::text || 'x', length(ARRAY[1, 2]::text), ARRAY[]::int[]::text, ARRAY[NULL::int]::text, CAST(ARRAY[1, 2] AS text), text(ARRAY[1, 2]::int[]);
SELECT 1e15::float8::text, 1e20::float8::text, 0.1::float4::text, 3.0::float8::text, 123456789.123::float8::text, 1e-5::float8::text, (0.1::float8 + 0.2)::text, 'NaN'::float8::text;
SELECT '1 month'::interval::text, '-1 day'::interval::text, '1 year 2 months 3 days 04:05:06.5'::interval::text, '36 hours'::interval::text;
SELECT 1.50::numeric::text, (1::numeric / 3)::text, 2.5::numeric(10,3)::text, sum(x)::text FROM (VALUES (1.5), (2.25)) t(x);
SELECT a::text, d::text, e::text, m::text, q::text, t::text, u::text, v::text, ROW(a, h, t)::text FROM tt;
SELECT format('%s', ARRAY[1, 2]), ARRAY[1, 2]::text = '{1,2}', ARRAY[1, 2]::varchar(3);
-- stddev and variance of integers and numerics are numerics, with PostgreSQL's scale
CREATE TABLE st (g int, x int, n numeric(10,2), f float8);
INSERT INTO st VALUES (1, 1, 1.50, 1.5), (1, 2, 2.25, 2.5), (1, 4, NULL, 3.5), (2, 7, 3.00, NULL), (2, NULL, 4.10, 1), (3, 100, 1, 1), (3, 300, 2, 2), (3, 1000, 3, 3);
SELECT g, stddev(x), variance(x), stddev_pop(x), var_pop(x), stddev_samp(x), var_samp(x) FROM st GROUP BY g ORDER BY g;
SELECT g, stddev(n), variance(n), stddev(f), variance(f) FROM st GROUP BY g ORDER BY g;
SELECT variance(x), stddev(x), var_pop(x), stddev_pop(x) FROM (VALUES (5), (5)) t(x);
SELECT variance(x), stddev(x), var_pop(x), stddev_pop(x) FROM (VALUES (5)) t(x);
SELECT variance(x), stddev(x) FROM (VALUES (1.5), (2.25), (3)) t(x);
SELECT g, x, stddev(x) OVER (PARTITION BY g ORDER BY x) FROM st ORDER BY g, x;
SELECT variance(DISTINCT x), stddev(x) FILTER (WHERE x > 1), round(stddev(x), 2), stddev(x)::text, pg_typeof(stddev(x)), pg_typeof(variance(f)) FROM st;
SELECT variance(x) FROM st WHERE false;
-- arrays' dimensions: cardinality counts every element
SELECT cardinality(ARRAY[[1, 2], [3, 4]]), cardinality(ARRAY[1, 2, 3]), cardinality('{}'::int[]), cardinality(NULL::int[]), cardinality(ARRAY[[[1], [2]], [[3], [4]]]);
CREATE TABLE ca (a int[], b int[][]);
INSERT INTO ca VALUES ('{1,2}', '{{1,2},{3,4},{5,6}}'), ('{}', NULL), (NULL, '{}');
SELECT cardinality(a), cardinality(b), array_length(b, 1), array_length(b, 2), array_length(b, 3), array_length(a, 1), array_length(a, 0), array_upper(b, 2), array_lower(a, 1) FROM ca;
SELECT array_ndims(a), array_ndims(b), array_dims(a), array_dims(b), b::text FROM ca;
SELECT array_length(ARRAY[]::int[], 1), array_upper(ARRAY[1, 2, 3], 1), array_length(ARRAY[[1, 2, 3]], 2);
-- bytea literals written to a bytea column are bytea's input (hex or escape form)
CREATE TABLE bt (id int, b bytea, t text);
INSERT INTO bt VALUES (1, '\x00ff', '\x00ff'), (2, 'abc', 'a\b'), (3, '\000\\x', '\\');
INSERT INTO bt (b, id) VALUES ('\xDEADbeef', 4);
SELECT id, b, octet_length(b), t FROM bt ORDER BY id;
INSERT INTO bt (id, b) VALUES (5, '\xzz');
-- casts to text and array dimensions in what DuckDB stores (index expressions, checks, defaults) stay DuckDB's
CREATE TABLE ck (x int CHECK (x::text <> '5'), y text DEFAULT (1.5::float8)::text, z float8, a int[]);
INSERT INTO ck (x, z, a) VALUES (1, 3.0, '{1,2}');
INSERT INTO ck (x) VALUES (5);
CREATE INDEX ck_z ON ck ((z::text));
CREATE INDEX ck_a ON ck (cardinality(a));
CREATE INDEX ck_b ON ck (array_length(a, 1));
CREATE VIEW ckv AS SELECT z::text AS zt, ARRAY[x]::text AS ax, cardinality(a) AS n FROM ck;
SELECT * FROM ckv;
SELECT x, y, z::text FROM ck WHERE z::text = '3';
UPDATE bt SET b = '\x0102' WHERE id = 1;
SELECT id, b, octet_length(b) FROM bt ORDER BY id;
