-- The plans guarded tables get.  The guards call allows() without a subquery
-- (no InitPlan): its answer is kept per request in C, and a guard must not
-- make PostgreSQL's policy recursion check fire (see sql/guard_recursion.sql).
-- The owner policy's (select auth.uid()) is an InitPlan, run once.
-- PostgreSQL prints plans differently by version, so this file has one
-- expected output per version (pg_regress takes whichever matches):
--   expected/policies_plan.out    15: an InitPlan's value is "$0"
--   expected/policies_plan_1.out  17: it is "(InitPlan 1).col1"
--   expected/policies_plan_2.out  18: as 17, and EXPLAIN ANALYZE prints row
--                                 counts with two decimals
-- The Supabase stand-in (roles, auth schema) is present in this database.
CREATE TABLE public.plan_data (id int PRIMARY KEY, user_id uuid NOT NULL, note text);
ALTER TABLE public.plan_data ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON public.plan_data FOR ALL TO authenticated
  USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.plan_data TO authenticated;
INSERT INTO public.plan_data VALUES
  (1, 'aaaaaaaa-0000-4000-8000-00000000000a', 'a1'),
  (2, 'aaaaaaaa-0000-4000-8000-00000000000a', 'a2'),
  (3, 'bbbbbbbb-0000-4000-8000-00000000000b', 'b1');
SELECT oauth_rls.set_access('public.plan_data', 'first_party', '{all}');
SELECT oauth_rls.guard('public.plan_data');

SET ROLE authenticated;
EXPLAIN (COSTS OFF) SELECT * FROM public.plan_data;
EXPLAIN (COSTS OFF) UPDATE public.plan_data SET note = 'x';
-- The InitPlan runs once (loops=1) while the filter sees every row.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT * FROM public.plan_data;
RESET ROLE;

SELECT oauth_rls.unguard('public.plan_data');
SELECT oauth_rls.clear_access('public.plan_data', 'first_party') AS removed;
DROP TABLE public.plan_data;
