-- DISTINCT ON must match the leading ORDER BY expressions (42P10).
create table dt (a int, b int, c text);
insert into dt values (1, 2, 'x'), (1, 3, 'y'), (2, 1, 'z');
select distinct on (a) a, b, c from dt order by a, b desc;
select distinct on (a) * from dt order by c;
select distinct on (a, b) * from dt order by b, a;
select distinct on (a) a, b from dt order by 1, 2;
select distinct on (a) a as x, b from dt order by x;
select distinct on (a) a, b from dt;
select distinct on (a + 1) a, b from dt order by a + 1, b;
select distinct on (a) a, b from dt order by a + 0;
