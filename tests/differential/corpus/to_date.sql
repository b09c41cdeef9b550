-- to_date / to_timestamp(text, format): PostgreSQL's patterns, errors 22007 / 22008.
select to_date('2024-03-05', 'YYYY-MM-DD');
select to_date('05 Mar 2024', 'DD Mon YYYY');
select to_date('March 5, 2024', 'Month DD, YYYY');
select to_date('20240305', 'YYYYMMDD');
select to_date('2024-13-45', 'YYYY-MM-DD');
select to_date('abcd-01-01', 'YYYY-MM-DD');
select to_timestamp('2024-03-05 14:30:15', 'YYYY-MM-DD HH24:MI:SS');
select to_timestamp('05/03/24 02:30 PM', 'DD/MM/YY HH12:MI AM');
select to_timestamp('2024-03-05 14:30:15.123', 'YYYY-MM-DD HH24:MI:SS.MS');
select to_date('2024 065', 'YYYY DDD');
select to_date(NULL, 'YYYY');
select to_timestamp(0);
select pg_typeof(to_date('2024-01-01', 'YYYY-MM-DD')), pg_typeof(to_timestamp('2024', 'YYYY'));
