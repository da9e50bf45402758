-- The publisher's data and publication (after logical_setup.sql): oauth_rls's
-- cached tables, as docs/reliability.md says to publish them, and the marker.
SET client_min_messages = warning;
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('lr-fp', 'first party', 'first_party'),
  ('0d000000-0000-4000-8000-00000000000d', 'partner', 'third_party');
SELECT oauth_rls.set_access('public.lr_notes', 'third_party', '{select}');
-- An API key of the session's user, kept where the subscriber's session can
-- read it (public.lr_keys is published too).
INSERT INTO public.lr_keys
  SELECT oauth_rls.create_api_key('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'replicated key', '{notes:read}');
CREATE PUBLICATION lr_pub FOR TABLE oauth_rls.clients, oauth_rls.access_matrix, oauth_rls.api_keys,
  public.lr_marker, public.lr_keys;
