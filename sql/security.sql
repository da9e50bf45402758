-- Security fixes of issue 10 that need a test of their own: act_as() in a
-- fresh connection, the DROP event trigger under replication, who may change
-- the protection settings, and grants that do not rely on PUBLIC defaults.

---------------------------------------------------------------------------
-- act_as() as the first call of a connection: the library is not loaded
-- yet, so oauth_rls.enforce_revocation is unknown; act_as() reads it anyway
-- (its default, on, or the value set before the library was loaded).
\c
SELECT count(*) AS loaded FROM pg_settings WHERE name = 'oauth_rls.enforce_revocation';
BEGIN;
SELECT oauth_rls.act_as('8d1c8a7e-0000-4000-8000-00000000a001', 'no-session-client') ->> 'client_id' AS client;
SELECT current_user, oauth_rls.client_id();
ROLLBACK;
\c
SET oauth_rls.enforce_revocation = off;
BEGIN;
SELECT oauth_rls.act_as('8d1c8a7e-0000-4000-8000-00000000a001', 'no-session-client') ->> 'client_id' AS client;
ROLLBACK;
\c

---------------------------------------------------------------------------
-- The DROP event trigger fires under session_replication_role = replica:
-- the matrix and guard rows of a table dropped there are gone.
SET client_min_messages = warning;
CREATE TABLE public.sec_replica_drop (id int);
SELECT oauth_rls.guard('public.sec_replica_drop', enable_rls => true);
SELECT oauth_rls.set_access('public.sec_replica_drop', 'third_party', '{select}');
SELECT 'public.sec_replica_drop'::regclass::oid AS dropped_oid \gset
SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'oauth_rls_forget_dropped_tables';
SET session_replication_role = replica;
DROP TABLE public.sec_replica_drop;
RESET session_replication_role;
SELECT (SELECT count(*) FROM oauth_rls.access_matrix WHERE tbl::oid = :dropped_oid) AS matrix_rows,
       (SELECT count(*) FROM oauth_rls.guarded_tables WHERE tbl::oid = :dropped_oid) AS guard_rows;
RESET client_min_messages;
