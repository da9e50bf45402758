-- Fixture for the hot-standby test, made on the primary before the base backup.
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('sb-fp', 'first party', 'first_party'), ('sb-tp', 'third party', 'third_party'),
  ('sb-bl', 'blocked', 'blocked');
CREATE TABLE public.sb_data (owner uuid NOT NULL, note text);
INSERT INTO public.sb_data VALUES
  ('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'mine'), ('00000000-0000-4000-8000-000000000002', 'theirs');
ALTER TABLE public.sb_data ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_first_party ON public.sb_data TO authenticated
  USING (owner = oauth_rls.user_id() AND oauth_rls.is_first_party());
GRANT SELECT ON public.sb_data TO authenticated;

-- Every non-volatile function of the extension, called with NULL arguments:
-- a read function added later is covered without editing this file.  Class
-- 22 (data exception) is an answer by design; anything else, above all
-- 25006 "cannot execute ... in a read-only transaction", is a failure.
CREATE FUNCTION public.sb_sweep() RETURNS SETOF text LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS sig, p.proname,
                  (SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY n)
                     FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, n)) AS args
           FROM pg_proc p
           WHERE p.pronamespace = 'oauth_rls'::regnamespace AND p.provolatile <> 'v'
             AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype
             AND NOT p.proretset
  LOOP
    BEGIN
      EXECUTE format('SELECT oauth_rls.%I(%s)', f.proname, coalesce(f.args, ''));
      RETURN NEXT 'ok ' || f.sig;
    EXCEPTION WHEN data_exception THEN
      RETURN NEXT 'ok ' || f.sig || ' (refuses NULL: ' || SQLSTATE || ')';
    WHEN OTHERS THEN
      RAISE EXCEPTION 'on the standby % failed: % %', f.sig, SQLSTATE, SQLERRM;
    END;
  END LOOP;
END
$$;
