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
