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
