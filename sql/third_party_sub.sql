-- Third-party auth (Clerk, Auth0, Firebase, WorkOS): tokens whose sub is not
-- a uuid.  Only user_id() (and session_id() for session_id) may raise the
-- claim's format error; tiers, allows(), client_id() and guards must not
-- depend on sub, so guarded tables keep working for such direct sessions.
\set SHOW_CONTEXT never
\set VERBOSITY terse

CREATE TABLE public.tp_notes (id int PRIMARY KEY, owner text NOT NULL, note text);
ALTER TABLE public.tp_notes ENABLE ROW LEVEL SECURITY;
-- How Supabase's third-party auth guide writes the owner policy.
CREATE POLICY tp_owner ON public.tp_notes FOR ALL TO authenticated
  USING ((select auth.jwt() ->> 'sub') = owner) WITH CHECK ((select auth.jwt() ->> 'sub') = owner);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.tp_notes TO authenticated;
INSERT INTO public.tp_notes VALUES (1, 'user_2abcClerk', 'mine'), (2, 'user_2other', 'theirs');
SELECT oauth_rls.guard('public.tp_notes');
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('c1000000-0000-4000-8000-0000000000f1', 'Web app', 'first_party'),
  ('c3000000-0000-4000-8000-0000000000f3', 'Partner', 'third_party');

CREATE FUNCTION pg_temp.as_claims(claims jsonb) RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', claims::text, false)
$$;
GRANT EXECUTE ON FUNCTION pg_temp.as_claims(jsonb) TO authenticated;
SET ROLE authenticated;

-- A Clerk session token: sub is Clerk's user id, no session_id.
SELECT pg_temp.as_claims('{"sub": "user_2abcClerk", "role": "authenticated", "sid": "sess_2xyz"}');
SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party(),
       oauth_rls.client_id() IS NULL AS no_client, oauth_rls.session_active(),
       oauth_rls.allows('public.tp_notes', 'select') AS allows_select;
SELECT id, note FROM public.tp_notes ORDER BY id;
INSERT INTO public.tp_notes VALUES (3, 'user_2abcClerk', 'new') RETURNING id;
UPDATE public.tp_notes SET note = 'edited' WHERE id = 3 RETURNING id, note;
DELETE FROM public.tp_notes WHERE id = 3 RETURNING id;
-- The claim readers that do not return sub work; user_id() refuses sub.
SELECT oauth_rls.claim('sub'), oauth_rls.session_id() IS NULL AS no_session, oauth_rls.scopes();
SELECT oauth_rls.user_id();
-- A policy that calls user_id() still raises (it asked for a uuid).
SELECT count(*) FROM public.tp_notes WHERE owner = oauth_rls.user_id()::text;

-- Other spellings of a non-uuid sub: a number, an empty string.
SELECT pg_temp.as_claims('{"sub": 12345, "role": "authenticated"}');
SELECT oauth_rls.current_tier(), oauth_rls.allows('public.tp_notes', 'select') AS allows_select;
SELECT count(*) AS rows_seen FROM public.tp_notes;
SELECT oauth_rls.user_id();
SELECT pg_temp.as_claims('{"sub": "", "role": "authenticated"}');
SELECT oauth_rls.current_tier(), oauth_rls.allows('public.tp_notes', 'select') AS allows_select;
SELECT oauth_rls.user_id();

-- A non-uuid session_id: only session_id() raises.
SELECT pg_temp.as_claims('{"sub": "user_2abcClerk", "role": "authenticated", "session_id": "sess_2xyz"}');
SELECT oauth_rls.current_tier(), oauth_rls.session_active(),
       oauth_rls.allows('public.tp_notes', 'select') AS allows_select;
SELECT id FROM public.tp_notes ORDER BY id;
SELECT oauth_rls.session_id();

-- The legacy per-claim setting with a non-uuid sub: the same.
SELECT pg_temp.as_claims('{"role": "authenticated"}');
SELECT set_config('request.jwt.claim.sub', 'user_2abcClerk', false) IS NOT NULL AS set;
SELECT oauth_rls.current_tier(), oauth_rls.allows('public.tp_notes', 'select') AS allows_select;
SELECT oauth_rls.user_id();
SELECT set_config('request.jwt.claim.sub', '', false) IS NOT NULL AS cleared;

-- With an OAuth client, the tier is the client's whatever sub says ...
SELECT pg_temp.as_claims('{"sub": "user_2abcClerk", "role": "authenticated",
                           "client_id": "c1000000-0000-4000-8000-0000000000f1"}');
SELECT oauth_rls.current_tier(), oauth_rls.client_id(), oauth_rls.is_first_party();
SELECT pg_temp.as_claims('{"sub": "user_2abcClerk", "role": "authenticated",
                           "client_id": "c3000000-0000-4000-8000-0000000000f3"}');
SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party();
-- ... and its session cannot be vouched for (Auth's OAuth sessions belong to
-- uuid users): with revocation enforced, guards refuse it, without raising.
SELECT oauth_rls.session_active(), oauth_rls.allows('public.tp_notes', 'select') AS allows_select;
SELECT count(*) AS rows_seen FROM public.tp_notes;
RESET ROLE;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS cleared;

SELECT oauth_rls.unguard('public.tp_notes');
DROP TABLE public.tp_notes;
DELETE FROM oauth_rls.clients;
