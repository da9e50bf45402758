-- bench/sql/guard.sql: the user's owner policy under oauth_rls.guard(), on a
-- copy of the table (run by bench/run only when the policies feature exists).
\set ON_ERROR_STOP 1
CREATE TABLE public.guarded (LIKE public.items INCLUDING ALL);
INSERT INTO public.guarded SELECT * FROM public.items ORDER BY id;
ALTER TABLE public.guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON public.guarded FOR ALL TO authenticated
  USING ((SELECT auth.uid()) = user_id);
GRANT SELECT ON public.guarded TO authenticated;
SELECT oauth_rls.guard('public.guarded') \g /dev/null
-- Third-party apps may read this table, so every context reads the same rows
-- and the ratio shows what the guard itself costs.
SELECT oauth_rls.set_access('public.guarded', 'third_party', '{select}') \g /dev/null
VACUUM (ANALYZE) public.guarded;
INSERT INTO bench.rls_variants VALUES (11, 'owner policy + guard', 'authenticated', 'public.guarded', NULL);
