-- bench/sql/rls_setup.sql: the policy variants of the RLS scan and index-scan
-- comparisons (bench/sql/rls.sql runs them).
\set ON_ERROR_STOP 1

-- One variant = one way to write user-needs §2's user_data policy ("owner
-- only, and only direct sessions or first-party apps"), applied TO its own
-- role so every variant reads the same physical table.
CREATE TABLE bench.rls_variants (
  ord     int PRIMARY KEY,
  variant text UNIQUE NOT NULL,
  role    text NOT NULL,
  tbl     text NOT NULL,
  policy  text                      -- NULL: no policy of ours on that role
);
INSERT INTO bench.rls_variants
SELECT v.ord, v.variant, v.role, v.tbl, replace(v.policy, '@FP@', fp.list)
FROM (SELECT string_agg(quote_literal(client_id), ', ' ORDER BY client_id) AS list
      FROM public.first_party_clients) fp,
(VALUES
 (1, 'floor: no policy', 'b_floor', 'public.items', NULL),
 (2, 'auth.jwt() per row', 'b_auth_row', 'public.items',
  $p$auth.uid() = user_id AND (auth.jwt() ->> 'client_id' IS NULL OR auth.jwt() ->> 'client_id' IN (@FP@))$p$),
 (3, 'auth.jwt() wrapped', 'b_auth_wrapped', 'public.items',
  $p$(SELECT auth.uid()) = user_id AND ((SELECT auth.jwt() ->> 'client_id') IS NULL OR (SELECT auth.jwt() ->> 'client_id') IN (@FP@))$p$),
 (4, 'registry table exists()', 'b_auth_exists', 'public.items',
  $p$(SELECT auth.uid()) = user_id AND ((SELECT auth.jwt() ->> 'client_id') IS NULL OR EXISTS (SELECT 1 FROM public.first_party_clients f WHERE f.client_id = (SELECT auth.jwt() ->> 'client_id')))$p$),
 (5, 'oauth_rls unwrapped: current_tier() IN (...)', 'b_ours', 'public.items',
  $p$oauth_rls.user_id() = user_id AND oauth_rls.current_tier() IN ('direct', 'first_party')$p$),
 (6, 'oauth_rls wrapped: current_tier() IN (...)', 'b_ours_wrapped', 'public.items',
  $p$(SELECT oauth_rls.user_id()) = user_id AND (SELECT oauth_rls.current_tier()) IN ('direct', 'first_party')$p$),
 (7, 'oauth_rls unwrapped: is_first_party()', 'b_ours_pred', 'public.items',
  $p$oauth_rls.user_id() = user_id AND oauth_rls.is_first_party()$p$),
 -- The form docs/policies.md recommends.
 (8, 'oauth_rls wrapped: is_first_party()', 'b_ours_pred_wrapped', 'public.items',
  $p$user_id = (SELECT oauth_rls.user_id()) AND (SELECT oauth_rls.is_first_party())$p$),
 -- Not a way anyone can write the rule (it knows the answer in advance): the
 -- least any policy costs, one comparison with a constant per row.
 (9, 'hard-coded answer (reference)', 'b_const', 'public.items',
  $p$user_id = '00000000-0000-4000-8000-000000000000'::uuid$p$)
) AS v(ord, variant, role, tbl, policy);

DO $$
DECLARE v record;
BEGIN
  FOR v IN SELECT * FROM bench.rls_variants LOOP
    EXECUTE format('CREATE ROLE %I NOLOGIN %s', v.role,
                   CASE WHEN v.policy IS NULL THEN 'BYPASSRLS' ELSE '' END);
    EXECUTE format('GRANT USAGE ON SCHEMA auth TO %I', v.role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION auth.uid(), auth.jwt() TO %I', v.role);
    EXECUTE format('GRANT SELECT ON public.items, public.first_party_clients TO %I', v.role);
    IF v.policy IS NOT NULL THEN
      EXECUTE format('CREATE POLICY %I ON public.items FOR ALL TO %I USING (%s)',
                     'p_' || v.role, v.role, v.policy);
    END IF;
  END LOOP;
END
$$;

-- The user's own owner policy, alone and (when the policies feature is
-- there) under our guard, on two copies of the table, read as authenticated.
CREATE TABLE public.owned (LIKE public.items INCLUDING ALL);
INSERT INTO public.owned SELECT * FROM public.items ORDER BY id;
ALTER TABLE public.owned ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON public.owned FOR ALL TO authenticated
  USING ((SELECT auth.uid()) = user_id);
GRANT SELECT ON public.owned TO authenticated;
VACUUM (ANALYZE) public.owned;
INSERT INTO bench.rls_variants VALUES (10, 'owner policy', 'authenticated', 'public.owned', NULL);


