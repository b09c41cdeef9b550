-- GROUP BY a primary key: the table's other columns may be read (functional dependency).
create table c (id int primary key, name text, city text);
create table o (oid int primary key, cid int, amount int);
insert into c values (1, 'ann', 'x'), (2, 'bob', 'y');
insert into o values (10, 1, 5), (11, 1, 7), (12, 2, 1);
select c.id, c.name, count(*), sum(o.amount) from c join o on o.cid = c.id group by c.id order by c.id;
select id, name, city from c group by id order by id;
select c.name, count(*) from c join o on o.cid = c.id group by c.id having c.city = 'x';
select name from c group by city;
select o.amount from c join o on o.cid = c.id group by c.id;
select x.id, x.name from c x group by x.id order by 1;
select c.*, count(o.*) from c left join o on o.cid = c.id group by c.id order by c.id;
create table nokey (id int, name text);
insert into nokey values (1, 'a');
select id, name from nokey group by id;
