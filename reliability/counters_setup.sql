-- scripts/test-reliability counters: a database whose limits the checks use.
CREATE SCHEMA rel_counters;
CREATE SEQUENCE rel_counters.admitted;
GRANT USAGE ON SCHEMA rel_counters TO PUBLIC;
GRANT USAGE ON SEQUENCE rel_counters.admitted TO PUBLIC;
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES
  ('client', 'hot', 20, 10),          -- the concurrency checks' bucket
  ('client', 'hot-reconnect', 20, 10),
  ('client', '*', 1000000, 1000000),   -- the memory check's million subjects: always admitted
  ('client', 'busy', 0.0001, 5),       -- exhausted, and must stay so through a flood
  ('tier', 'third_party', 0.0001, 3),  -- pre_request() in a read-only transaction
  ('client', 'standby', 0.0001, 4);
-- One issued token, as Auth's transaction issues it.
CREATE FUNCTION rel_counters.issue(client text) RETURNS boolean LANGUAGE sql AS $$
  SELECT oauth_rls.custom_access_token_hook(jsonb_build_object(
    'user_id', 'aaaaaaaa-0000-4000-8000-000000000001', 'authentication_method', 'password',
    'claims', jsonb_build_object('iss', 'https://x.supabase.co/auth/v1',
      'sub', 'aaaaaaaa-0000-4000-8000-000000000001', 'aud', 'authenticated', 'exp', 1900000000,
      'iat', 1800000000, 'email', 'a@example.com', 'phone', '', 'role', 'authenticated',
      'aal', 'aal1', 'client_id', client, 'session_id', 'aaaaaaaa-0000-4000-8000-0000000000aa',
      'is_anonymous', false))) ? 'claims'
$$;
CREATE FUNCTION rel_counters.issued(client text) RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(sum(tokens), 0)::bigint FROM oauth_rls.token_issuance WHERE token_issuance.client = issued.client
$$;
-- Waits up to 10 s for a condition (the flush runs every second here).
CREATE FUNCTION rel_counters.wait_for(cond text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
  FOR i IN 1..100 LOOP
    EXECUTE 'SELECT ' || cond INTO ok;
    IF ok THEN RETURN true; END IF;
    PERFORM pg_sleep(0.1);
    PERFORM pg_stat_clear_snapshot();
  END LOOP;
  RETURN false;
END
$$;
-- Raises unless cond holds: for checks that need psql variables.
CREATE FUNCTION rel_counters.check(cond boolean, what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF cond IS NOT TRUE THEN
    RAISE EXCEPTION 'check failed: %', what;
  END IF;
  RETURN true;
END
$$;
