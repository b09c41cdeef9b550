-- Aggregates: result types, FILTER, ordered aggregates, GROUP BY forms.
CREATE TABLE sales (region text, product text, qty int, price numeric(10,2), ok boolean);
INSERT INTO sales VALUES
  ('east', 'a', 10, 2.50, true), ('east', 'b', 5, 10.00, false), ('west', 'a', 7, 2.50, true),
  ('west', 'c', NULL, 99.99, NULL), ('north', 'b', 3, 10.00, true), ('east', 'a', 1, 2.75, true);
SELECT count(*), count(qty), sum(qty), avg(qty), min(qty), max(qty) FROM sales;
SELECT pg_typeof(sum(qty)), pg_typeof(avg(qty)), pg_typeof(count(*)), pg_typeof(sum(price)) FROM sales;
SELECT sum(price), avg(price), sum(qty * price) FROM sales;
SELECT avg(x) FROM (VALUES (1), (2)) t(x);
SELECT avg(x::float8), sum(x::float8) FROM (VALUES (1), (2), (4)) t(x);
SELECT sum(x) FROM (VALUES (2147483647), (1)) t(x);
SELECT sum(x::int8) FROM (VALUES (9223372036854775807), (1)) t(x);
SELECT region, sum(qty) FROM sales GROUP BY region ORDER BY region;
SELECT region, count(*) FILTER (WHERE ok), sum(qty) FILTER (WHERE product = 'a') FROM sales GROUP BY region ORDER BY region;
SELECT string_agg(product, ',' ORDER BY product) FROM sales;
SELECT string_agg(DISTINCT product, '|' ORDER BY product) FROM sales;
SELECT region, string_agg(product, ', ' ORDER BY qty DESC NULLS LAST) FROM sales GROUP BY region ORDER BY region;
SELECT array_agg(qty ORDER BY qty NULLS FIRST) FROM sales;
SELECT array_agg(DISTINCT region ORDER BY region) FROM sales;
SELECT region, array_agg(product ORDER BY product) FROM sales GROUP BY region ORDER BY 1;
SELECT bool_and(ok), bool_or(ok), every(qty > 0) FROM sales;
SELECT count(DISTINCT product), count(DISTINCT (region, product)) FROM sales;
SELECT region FROM sales GROUP BY region HAVING sum(qty) > 10 ORDER BY region;
SELECT region, product, sum(qty) FROM sales GROUP BY ROLLUP (region, product) ORDER BY region NULLS LAST, product NULLS LAST;
SELECT region, product, count(*) FROM sales GROUP BY CUBE (region, product) ORDER BY 1 NULLS FIRST, 2 NULLS FIRST;
SELECT region, product, count(*) FROM sales GROUP BY GROUPING SETS ((region), (product), ()) ORDER BY 1, 2;
SELECT region, GROUPING(region), count(*) FROM sales GROUP BY ROLLUP (region) ORDER BY 2, 1;
SELECT count(*) FROM sales WHERE false;
SELECT sum(qty), max(region) FROM sales WHERE false;
SELECT region, count(*) FROM sales WHERE false GROUP BY region;
SELECT stddev(qty), variance(qty), stddev_pop(qty), var_samp(qty) FROM sales;
SELECT round(stddev(qty), 4), round(corr(qty, price)::numeric, 6) FROM sales;
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY qty), percentile_disc(0.5) WITHIN GROUP (ORDER BY qty) FROM sales;
SELECT mode() WITHIN GROUP (ORDER BY product) FROM sales;
SELECT max(price) - min(price), max(product), min(ok::int) FROM sales;
SELECT 1 AS one, count(*) FROM sales GROUP BY 1;
SELECT product, avg(price)::numeric(10,3) FROM sales GROUP BY product ORDER BY product;
SELECT sum(qty) OVER () FROM sales LIMIT 1;
SELECT json_agg(product ORDER BY product) FROM sales WHERE region = 'east';
SELECT jsonb_object_agg(product, qty) FROM sales WHERE region = 'west';
SELECT qty, count(*) FROM sales GROUP BY qty ORDER BY qty NULLS FIRST;
SELECT region, max(qty) FROM sales GROUP BY region HAVING count(*) > 1 ORDER BY 2 DESC;
SELECT count(*) FROM (SELECT DISTINCT region FROM sales) s;
SELECT region, product FROM sales GROUP BY region, product HAVING count(*) = 2;
SELECT sum(qty) FROM sales GROUP BY region HAVING region = 'north';
SELECT product FROM sales GROUP BY region;
SELECT pg_typeof(sum(qty)), pg_typeof(sum(qty::int8)), pg_typeof(sum(qty::int2)), pg_typeof(sum(qty::float4)), pg_typeof(sum(price)), sum(qty::float4) FROM sales;
SELECT region, sum(qty), sum(qty) FILTER (WHERE ok), sum(DISTINCT qty), sum(qty) OVER () FROM sales GROUP BY region, qty, ok ORDER BY region, qty;
SELECT sum(qty) / count(*), sum(qty) * 2, avg(qty) / 2, sum(price) / 2 FROM sales;
-- Hypothetical-set aggregates: where a row would sort among the group's rows.
SELECT rank(3) WITHIN GROUP (ORDER BY x), dense_rank(3) WITHIN GROUP (ORDER BY x), percent_rank(3) WITHIN GROUP (ORDER BY x), cume_dist(3) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (1), (2), (3), (3), (4), (NULL)) v(x);
SELECT rank(3) WITHIN GROUP (ORDER BY x DESC), dense_rank(3) WITHIN GROUP (ORDER BY x DESC NULLS LAST), cume_dist(NULL::int) WITHIN GROUP (ORDER BY x NULLS FIRST) FROM (VALUES (1), (3), (4), (NULL), (NULL)) v(x);
SELECT rank(NULL::int) WITHIN GROUP (ORDER BY x), percent_rank(NULL::int) WITHIN GROUP (ORDER BY x DESC) FROM (VALUES (1), (2), (NULL)) v(x);
SELECT rank(3, 'b') WITHIN GROUP (ORDER BY x, y), dense_rank(3, 'b') WITHIN GROUP (ORDER BY x, y DESC) FROM (VALUES (1, 'a'), (3, 'a'), (3, 'c'), (NULL, 'z')) v(x, y);
SELECT region, rank(5) WITHIN GROUP (ORDER BY qty), cume_dist(5) WITHIN GROUP (ORDER BY qty) FILTER (WHERE ok) FROM sales GROUP BY region ORDER BY region;
SELECT percent_rank(3) WITHIN GROUP (ORDER BY x), cume_dist(3) WITHIN GROUP (ORDER BY x), rank(3) WITHIN GROUP (ORDER BY x) FROM (VALUES (1)) v(x) WHERE false;
SELECT rank(1, 2) WITHIN GROUP (ORDER BY x) FROM (VALUES (1)) v(x);
-- variances of floats with NaN or an infinity among the values are NaN
SELECT var_pop('inf'::float8), var_samp('inf'::float8), stddev_pop('nan'::float8), stddev_samp('nan'::float8);
SELECT var_pop('inf'::float4), var_samp('inf'::float4), stddev_pop('nan'::float4), stddev_samp('nan'::float4);
SELECT var_pop(x), var_samp(x), stddev(x) FROM (VALUES (1::float8), ('inf'), (3)) v(x);
SELECT var_samp(x), stddev_samp(x) FROM (VALUES (1::float8)) v(x);
-- float4 / float8 -> numeric keeps 6 / 15 significant digits
CREATE TABLE fl (a float4, b float8, i int, v text);
INSERT INTO fl VALUES (0.09561, 0.1, 1, '2.25'), (324.78, 1e-5, 123456789, '7'), (-1.5, 123456.789012345678, NULL, NULL);
SELECT a::numeric, b::numeric, i::numeric, v::numeric, CAST(a AS numeric) FROM fl ORDER BY i;
SELECT (b + 0.2::float8)::numeric, (0.1::float8 + 0.2::float8)::numeric, '0.3'::float4::numeric FROM fl ORDER BY i;
SELECT stddev_pop(a::numeric), var_samp(a::numeric), sum(a::numeric) FROM fl;
SELECT (1e20::float8)::numeric, (1234567.0::float4)::numeric;
-- a NULL delimiter joins with nothing between
SELECT string_agg(v, NULL) FROM (VALUES ('a'), ('b'), (NULL)) t(v);
-- percentile_cont reads a double: a real's answer is a double
CREATE TABLE pc (a float4, i int, n numeric(10,2), d interval, ts timestamp);
INSERT INTO pc VALUES (56.0, 1, 1.25, '1 day', '2020-01-01'), (0.09561, 2, 2.5, '3 days', '2020-01-03'), (100, 4, 7, '1 hour', '2020-01-05'), (324.78, 7, 9, '2 days', '2020-01-02');
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a), percentile_cont(0.5) WITHIN GROUP (ORDER BY i), percentile_cont(0.3) WITHIN GROUP (ORDER BY n) FROM pc;
SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY a DESC), percentile_cont(ARRAY[0.25, 0.5]) WITHIN GROUP (ORDER BY i), percentile_disc(0.5) WITHIN GROUP (ORDER BY a) FROM pc;
