-- The one-time admin step for capture's PostgreSQL user, least privilege:
-- it may log in, stream logical replication and read the two captured
-- tables, and nothing more. The publication is created here by the admin
-- (the tables' owner), so capture never needs to own them. Run as a
-- superuser in the captured database, with the password in the environment:
--   PG_CAPTURE_PASSWORD=... psql -d ecommerce -v ON_ERROR_STOP=1 -f capture-user.sql
-- scripts/stack runs it on every `up`, the chart's PostgreSQL at its first
-- start; running it again changes nothing.
\getenv capture_password PG_CAPTURE_PASSWORD
SELECT format('CREATE ROLE debezium LOGIN REPLICATION PASSWORD %L', :'capture_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'debezium') \gexec
ALTER ROLE debezium WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
  PASSWORD :'capture_password';
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM debezium;
GRANT SELECT ON users, products TO debezium;
SELECT 'CREATE PUBLICATION debezium_publication FOR TABLE users, products'
 WHERE NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'debezium_publication') \gexec
