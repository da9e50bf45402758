-- Run in ONE session on the subscriber (psql -v ON_ERROR_STOP=1): a
-- long-lived backend whose caches were filled before the publisher blocks a
-- client, revokes a key or changes the access matrix must see each change
-- once the apply worker has committed it.  "$WAIT_APPLY" makes the change
-- $CHANGE on the publisher and waits until the subscriber applied it.
\set QUIET on
DO $$ BEGIN ASSERT (SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL) > 0, 'no apply worker'; END $$;

-- expect(check, what): polls check (SQL returning boolean) for up to 5 s,
-- committing between tries (a new transaction applies invalidations that
-- arrived, as a pooled backend's next request does).  It never reads
-- oauth_rls's tables itself: only the extension's cached functions do.
CREATE PROCEDURE public.lr_expect(check_sql text, what text) LANGUAGE plpgsql AS $$
DECLARE
  ok boolean;
BEGIN
  FOR i IN 1..50 LOOP
    EXECUTE 'SELECT ' || check_sql INTO ok;
    IF ok THEN
      RETURN;
    END IF;
    COMMIT;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RAISE EXCEPTION 'on the subscriber, 5 s after the change was applied: % (% is still false)', what, check_sql;
END
$$;

-- a third-party request of the replicated partner client, with its live
-- session (Auth's tables are local) and the replicated API key
SELECT set_config('request.jwt.claims', '{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"0d000000-0000-4000-8000-00000000000d","session_id":"5e000000-0000-4000-8000-00000000000d","role":"authenticated"}', false) IS NULL;
SELECT set_config('request.headers', json_build_object('x-api-key', key)::text, false) IS NULL FROM public.lr_keys;
-- fill every cache: tiers (registered and unregistered clients), the
-- matrix, the key
DO $$
BEGIN
  ASSERT oauth_rls.current_tier() = 'third_party', format('tier %s', oauth_rls.current_tier());
  ASSERT oauth_rls.tier_of('lr-fp') = 'first_party', 'tier_of lr-fp';
  ASSERT oauth_rls.tier_of('lr-new') = 'third_party', 'tier_of lr-new (unregistered)';
  ASSERT oauth_rls.tier_of('bulk-4999') = 'third_party', 'tier_of bulk-4999 (unregistered)';
  ASSERT oauth_rls.allows('public.lr_notes', 'select') AND NOT oauth_rls.allows('public.lr_notes', 'delete'), 'matrix';
  ASSERT oauth_rls.api_key_owner() = '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'api_key_owner';
END $$;

-- the matrix: an update, a delete, an insert
\setenv CHANGE 'SELECT oauth_rls.set_access(''public.lr_notes'', ''third_party'', ''{select,delete}'')'
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.allows('public.lr_notes', 'delete')$$, 'a matrix update');
\setenv CHANGE 'SELECT oauth_rls.clear_access(''public.lr_notes'', ''third_party'')'
\! "$WAIT_APPLY"
CALL public.lr_expect($$NOT oauth_rls.allows('public.lr_notes', 'select')$$, 'a matrix delete');
\setenv CHANGE 'SELECT oauth_rls.set_access(''public.lr_notes'', ''third_party'', ''{select}'')'
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.allows('public.lr_notes', 'select')$$, 'a matrix insert');

-- the registry: a new client (a cached miss), a blocked client, a deleted one
\setenv CHANGE 'INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES (''lr-new'', ''new'', ''first_party'')'
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.tier_of('lr-new') = 'first_party'$$, 'a registered client');
\setenv CHANGE 'UPDATE oauth_rls.clients SET tier = ''blocked'' WHERE client_id = ''0d000000-0000-4000-8000-00000000000d'''
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.current_tier() = 'blocked' AND NOT oauth_rls.allows('public.lr_notes', 'select')$$,
                      'a blocked client');
\setenv CHANGE 'DELETE FROM oauth_rls.clients WHERE client_id = ''lr-fp'''
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.tier_of('lr-fp') = 'third_party'$$, 'a deleted client');

-- the key: a revocation
\setenv CHANGE 'SELECT oauth_rls.revoke_api_key(key_id) FROM oauth_rls.api_keys'
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.api_key_owner() IS NULL$$, 'a revoked API key');

-- many rows in one statement, then TRUNCATE (replicated as TRUNCATE)
\setenv CHANGE 'INSERT INTO oauth_rls.clients (client_id, name, tier) SELECT ''bulk-'' || i, ''bulk'', ''first_party'' FROM generate_series(1, 5000) AS i'
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.tier_of('bulk-4999') = 'first_party'$$, '5,000 clients in one statement');
\setenv CHANGE 'TRUNCATE oauth_rls.clients'
\! "$WAIT_APPLY"
CALL public.lr_expect($$oauth_rls.current_tier() = 'third_party' AND oauth_rls.tier_of('lr-new') = 'third_party'
                        AND oauth_rls.allows('public.lr_notes', 'select')$$, 'a truncated registry');
\echo logical replication checks passed
