-- Built-in functions whose edge cases DuckDB answers otherwise (translate/builtins.py).
SELECT substr('1234567890', -1, 5), substr('1234567890', 0, 2), substr('1234567890', 3), substr('abc', -5);
SELECT substring('1234567890' from -2 for 6), substring('1234567890' from 4), substring('hello' from 2 for 2);
SELECT substr('abc', 2, -1);
SELECT split_part('joeuser@mydatabase', '', 1), split_part('joeuser@mydatabase', '', 2), split_part('a,b,c', ',', -1), split_part('a,b,c', ',', 2);
SELECT split_part('a,b', ',', 0);
SELECT date_trunc('century', TIMESTAMP '1970-03-20 04:30:00'), date_trunc('millennium', TIMESTAMP '2004-08-10 00:00:00'), date_trunc('century', TIMESTAMP '2000-12-31 23:00:00');
SELECT array_agg(DISTINCT a) FROM (VALUES (3), (1), (2), (1), (NULL), (2)) v(a);
SELECT string_agg(DISTINCT s, ',') FROM (VALUES ('b'), ('a'), ('c'), ('a')) v(s);
SELECT regexp_matches('foobarbequebaz', '(bar)(beque)');
SELECT substring('abcdef' similar 'a#"bc#"%' escape '#'), substring('foobar' from 'o+b');
CREATE TABLE bt (s text, n int);
INSERT INTO bt VALUES ('hello world', 3), ('xy', -2);
SELECT s, substr(s, n), substr(s, n, 4), substring(s, n, 2) FROM bt ORDER BY s;
SELECT concat('a', 1, NULL, true, false, 2.50, DATE '2024-01-02'), concat_ws('-', 'a', NULL, true, 3);
SELECT 'a' || true, true || 'b', 'n' || 1.5;
CREATE TABLE ma (id int PRIMARY KEY, a int, b int);
INSERT INTO ma VALUES (1, 10, 20), (2, 30, 40);
UPDATE ma SET (a, b) = (SELECT b, a FROM ma m WHERE m.id = ma.id) WHERE id = 1;
UPDATE ma SET (b, a) = (SELECT 7, 8), id = id WHERE id = 2 RETURNING *;
SELECT * FROM ma ORDER BY id;
-- The SQL-standard value functions, alone in the select list (named after themselves).
SELECT current_user IS NOT NULL;
SELECT length(session_user) > 0, user = current_role;
SELECT CURRENT_DATE = now()::date;
SELECT CURRENT_TIMESTAMP = now(), LOCALTIMESTAMP IS NOT NULL;
SELECT current_time IS NOT NULL, localtime IS NOT NULL;
SELECT current_catalog = current_database(), current_schema;
