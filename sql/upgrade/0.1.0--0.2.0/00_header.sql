-- oauth_rls upgrade script 0.1.0 -> 0.2.0, part 00.
-- sql/oauth_rls--0.1.0--0.2.0.sql is assembled from sql/upgrade/0.1.0--0.2.0/*.sql
-- in file-name order by the Makefile.  Every object change made to
-- sql/install/*.sql after 0.1.0 has its counterpart in one part here, so that
-- ALTER EXTENSION oauth_rls UPDATE gives the same catalog as a fresh install
-- (scripts/test-reliability "upgrade" compares them).
\echo Use "ALTER EXTENSION oauth_rls UPDATE TO '0.2.0'" to load this file. \quit

-- As in the install script: unqualified names resolve in pg_catalog only.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
