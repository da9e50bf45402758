-- Fixture for the logical replication test, run on the publisher's and the
-- subscriber's database alike (logical replication copies rows, not schema):
-- a table the access matrix names, a marker table wait-apply writes to, a table for the API key, and
-- Auth rows for the session the checks use (local on each side).
SET client_min_messages = warning;
CREATE TABLE public.lr_notes (owner uuid NOT NULL);
CREATE TABLE public.lr_marker (n integer PRIMARY KEY);
CREATE TABLE public.lr_keys (key text PRIMARY KEY);
INSERT INTO auth.users (id, email) VALUES ('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'ann@example.com');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types)
  VALUES ('0d000000-0000-4000-8000-00000000000d', 'client_secret_basic', 'dynamic', 'https://partner.example.com/cb', 'authorization_code');
INSERT INTO auth.sessions (id, user_id, oauth_client_id)
  VALUES ('5e000000-0000-4000-8000-00000000000d', '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', '0d000000-0000-4000-8000-00000000000d');
