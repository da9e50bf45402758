-- bench/sql/api_keys.sql: validating pk_<id>.sk_<secret> keys, oauth_rls
-- against the pgcrypto SQL function teams write today (user-needs §5).
-- psql variables: keys (how many are stored), rounds, reps.
\set ON_ERROR_STOP 1

\echo [bench] API keys: creating keys
CREATE TABLE bench.keys (i int PRIMARY KEY, key text NOT NULL);
INSERT INTO bench.keys
SELECT k, oauth_rls.create_api_key(bench.user_uuid(k % 3), 'bench key ' || k)
FROM generate_series(1, :keys) k;

-- Today's table and function: the key id, and a hex SHA-256 of the secret as
-- encode(digest(secret, 'sha256'), 'hex') stores it; looked up by primary key.
CREATE TABLE public.user_api_keys (
  key_id        text PRIMARY KEY,
  owner         uuid NOT NULL,
  name          text NOT NULL,
  scopes        text[] NOT NULL DEFAULT '{}',
  client_id     text,
  secret_sha256 text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz
);
INSERT INTO public.user_api_keys (key_id, owner, name, secret_sha256)
SELECT split_part(substr(k.key, 4), '.', 1), bench.user_uuid(k.i % 3), 'bench key ' || k.i,
       encode(extensions.digest(substr(k.key, strpos(k.key, '.sk_') + 4), 'sha256'), 'hex')
FROM bench.keys k;
VACUUM (ANALYZE) public.user_api_keys, bench.keys;

CREATE FUNCTION public.validate_api_key_sql(key text)
RETURNS TABLE (key_id text, owner uuid, scopes text[], client_id text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT k.key_id, k.owner, k.scopes, k.client_id
  FROM public.user_api_keys k
  WHERE key LIKE 'pk\_%.sk\_%'
    AND k.key_id = split_part(substr(key, 4), '.', 1)
    AND k.secret_sha256 = encode(extensions.digest(substr(key, strpos(key, '.sk_') + 4), 'sha256'), 'hex')
    AND k.revoked_at IS NULL
    AND (k.expires_at IS NULL OR k.expires_at > now())
$$;

-- Both sides must accept exactly the same keys before they are timed.
DO $$
BEGIN
  ASSERT (SELECT count(*) FROM bench.keys k, public.validate_api_key_sql(k.key) WHERE k.i <= 100) = 100,
    'pgcrypto function rejects stored keys';
  ASSERT (SELECT count(*) FROM bench.keys k, oauth_rls.validate_api_key(k.key) WHERE k.i <= 100) = 100,
    'validate_api_key rejects stored keys';
END
$$;

INSERT INTO bench.comparisons VALUES
  ('API key validation', 4, 'pgcrypto SQL function', 'ms',
   'one valid key per statement, a different one each time, prepared; as the table owner');

\echo [bench] API keys: server-side loop
SELECT bench.run('API key validation', to_char(:keys, 'FM999,999') || ' keys, server-side',
                 ARRAY['pgcrypto SQL function', 'oauth_rls.validate_api_key'],
                 ARRAY['none', 'none'],
                 ARRAY['SELECT * FROM public.validate_api_key_sql($1)',
                       'SELECT * FROM oauth_rls.validate_api_key($1)'],
                 (SELECT array_agg(''::text) FROM generate_series(1, least(:reps, :keys))),
                 (SELECT array_agg(key ORDER BY i) FROM
                    (SELECT i, key FROM bench.keys WHERE i % greatest(:keys / least(:reps, :keys), 1) = 0
                     ORDER BY i LIMIT least(:reps, :keys)) s),
                 :rounds, :reps) \g /dev/null

-- The same with oauth_rls's per-backend key cache turned off: every
-- validation reads the table (the first use of a key in a backend).
SET oauth_rls.api_key_cache_size = 0;
SELECT bench.run('API key validation', to_char(:keys, 'FM999,999') || ' keys, server-side, key cache off',
                 ARRAY['pgcrypto SQL function', 'oauth_rls.validate_api_key'],
                 ARRAY['none', 'none'],
                 ARRAY['SELECT * FROM public.validate_api_key_sql($1)',
                       'SELECT * FROM oauth_rls.validate_api_key($1)'],
                 (SELECT array_agg(''::text) FROM generate_series(1, least(:reps, :keys))),
                 (SELECT array_agg(key ORDER BY i) FROM
                    (SELECT i, key FROM bench.keys WHERE i % greatest(:keys / least(:reps, :keys), 1) = 0
                     ORDER BY i LIMIT least(:reps, :keys)) s),
                 :rounds, :reps) \g /dev/null
RESET oauth_rls.api_key_cache_size;
