-- scripts/test-reliability counters: checks on one preloaded server.
-- Each DO block asserts; the first failure stops the script (ON_ERROR_STOP).
\set ON_ERROR_STOP 1

-- pre_request() through PostgREST's GET: a read-only transaction, the JWT in
-- request.jwt.claims.  Exactly burst requests pass; the next is refused with
-- PostgREST's 429 and a Retry-After header; nothing is written.
BEGIN READ ONLY;
SELECT set_config('request.jwt.claims',
  '{"sub": "aaaaaaaa-0000-4000-8000-000000000002", "role": "authenticated", "client_id": "ro-client"}', true) IS NOT NULL AS set;
DO $$
DECLARE
  admitted int := 0;
  st text; msg text; det text;
BEGIN
  FOR i IN 1..6 LOOP
    BEGIN
      PERFORM oauth_rls.pre_request();
      admitted := admitted + 1;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    END;
  END LOOP;
  ASSERT admitted = 3, format('%s requests admitted, burst is 3', admitted);
  ASSERT st = 'PGRST', format('refused with SQLSTATE %s', st);
  ASSERT msg::jsonb ->> 'code' = 'PT429', msg;
  ASSERT (det::jsonb ->> 'status')::int = 429, det;
  ASSERT (det::jsonb -> 'headers' ->> 'Retry-After')::int >= 1, det;
  ASSERT msg NOT LIKE '%ro-client%' AND det NOT LIKE '%ro-client%', 'the refusal names the client';
  ASSERT txid_current_if_assigned() IS NULL, 'the check took a transaction id';
END
$$;
COMMIT;

-- The same client through rate_limit() in an RPC function: same bucket, so refused at once.
DO $$
BEGIN
  PERFORM set_config('request.jwt.claims', '{"sub": "aaaaaaaa-0000-4000-8000-000000000003", "client_id": "ro-client"}', true);
  PERFORM oauth_rls.rate_limit();
  RAISE EXCEPTION 'rate_limit() admitted an exhausted client';
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
  NULL;
END
$$;

-- A limit changed in the table applies at the next statement.
UPDATE oauth_rls.rate_limits SET rate = 1000000, burst = 1000000 WHERE scope = 'tier' AND subject = 'third_party';
DO $$
BEGIN
  PERFORM set_config('request.jwt.claims', '{"sub": "aaaaaaaa-0000-4000-8000-000000000003", "client_id": "ro-client"}', true);
  PERFORM oauth_rls.pre_request();
END
$$;

-- API key last use: recorded without a write, written by the flush.
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000001', 'counters') AS key \gset
BEGIN READ ONLY;
SELECT count(*) = 1 AS valid FROM oauth_rls.validate_api_key(:'key');
SELECT set_config('request.headers', json_build_object('x-api-key', :'key')::text, true) IS NOT NULL AS set;
SELECT oauth_rls.api_key_owner() IS NOT NULL AS owner_seen;
DO $$ BEGIN ASSERT txid_current_if_assigned() IS NULL, 'key validation took a transaction id'; END $$;
COMMIT;
DO $$
BEGIN
  ASSERT (SELECT last_used_at FROM oauth_rls.api_keys) IS NULL, 'last_used_at written by the validation itself';
  ASSERT rel_counters.wait_for('(SELECT last_used_at IS NOT NULL FROM oauth_rls.api_keys)'),
    'the flush did not write last_used_at within 10 s';
END
$$;

-- Issuance: counted at commit (a rolled-back sign-in issued nothing), written by the flush.
SELECT rel_counters.issue('issuer') FROM generate_series(1, 3);
BEGIN;
SELECT rel_counters.issue('issuer');
ROLLBACK;
DO $$
BEGIN
  ASSERT rel_counters.issued('issuer') = 0, 'issuance written by the hook itself';
  ASSERT rel_counters.wait_for('rel_counters.issued(''issuer'') = 3'), 'the flush did not write 3 issuances within 10 s';
  ASSERT (SELECT bool_and(shard = -1) FROM oauth_rls.token_issuance WHERE client = 'issuer');
END
$$;
SELECT pg_sleep(2.5);
DO $$ BEGIN ASSERT rel_counters.issued('issuer') = 3, 'a count written twice'; END $$;

-- flush_counters() from SQL, and its refusal inside a subtransaction.
SELECT rel_counters.issue('by-sql');
SELECT oauth_rls.flush_counters() >= 0 AS flushed;
DO $$ BEGIN ASSERT rel_counters.issued('by-sql') = 1; END $$;
DO $$
BEGIN
  BEGIN
    PERFORM oauth_rls.flush_counters();
    RAISE EXCEPTION 'flush_counters() ran in a subtransaction';
  EXCEPTION WHEN active_sql_transaction THEN NULL;
  END;
END
$$;

-- Bounded memory: a million distinct subjects (each a fresh bucket) leave the
-- store's size as it was; a busy, exhausted bucket survives the flood (were it
-- evicted, it would come back full and admit again).
SELECT size AS shmem_before FROM pg_shmem_allocations WHERE name = 'oauth_rls counters' \gset
SELECT rel_counters.check(count(*) FILTER (WHERE oauth_rls.rate_limit('client', 'busy') = 0) = 5,
                          'a fresh bucket of burst 5 admits 5') AS busy_burst FROM generate_series(1, 10);
DO $$
DECLARE
  flood bigint;
  busy bigint;
BEGIN
  SELECT count(*) FILTER (WHERE g % 500 <> 0 AND oauth_rls.rate_limit('client', 'm' || g) = 0),
         count(*) FILTER (WHERE g % 500 = 0 AND oauth_rls.rate_limit('client', 'busy') = 0)
    INTO flood, busy
    FROM generate_series(1, 1000000) AS g;
  ASSERT flood = 998000, format('%s of 998000 fresh subjects admitted', flood);
  ASSERT busy = 0, format('the busy exhausted bucket admitted %s requests after the flood', busy);
END
$$;
SELECT rel_counters.check(used <= capacity AND evictions >= 998000 - capacity,
                          format('store bounded: %s used of %s, %s evictions', used, capacity, evictions)) AS bounded
  FROM oauth_rls.counter_store();
SELECT rel_counters.check(size = :shmem_before, 'the store''s shared memory grew') AS shmem_unchanged
  FROM pg_shmem_allocations WHERE name = 'oauth_rls counters';
