#!/usr/bin/python3
"""SQL for the pool test (scripts/test-reliability, "pool"): an HS256 issuer and
rel.tokens, one JWT per user and persona (reliability/pool_setup.sql's rel.claims,
plus iss and exp), signed by PyJWT, for reliability/pool_authenticate.pgbench."""
import time

import jwt

ISS = "https://pool.supabase.co/auth/v1"
SECRET = "pool-test-jwt-secret-at-least-32-bytes"
exp = int(time.time()) + 6 * 3600


def claims(u, kind):
    c = {"iss": ISS, "exp": exp, "sub": "00000000-0000-4000-8000-%012x" % u, "role": "authenticated",
         "aud": "authenticated",
         "session_id": "%s-0000-4000-8000-%012x" % ("dead0000" if kind == 6 else "1111111%d" % kind, u)}
    if kind in (4, 5):
        c["client_id"] = "d0000000-0000-4000-8000-%012x" % u
    elif kind != 0:
        c["client_id"] = "%s0000000-0000-4000-8000-00000000000%d" % (["f", "e", "b", "", "", "e"][kind - 1], u % 7)
    if kind != 0:
        c["scope"] = "openid s%d" % u
    return c


# The sessions are checked by rel.check (session_active()), not here: kind 6
# (a revoked session) must reach it.
print(f"""INSERT INTO oauth_rls.jwt_issuers (issuer, algorithms, require_live_session) VALUES ('{ISS}', '{{HS256}}', false);
SELECT oauth_rls.set_jwt_secret('{ISS}', '{SECRET}');
GRANT EXECUTE ON FUNCTION oauth_rls.authenticate(text) TO authenticator;
CREATE TABLE rel.tokens (u int, kind int, token text NOT NULL, PRIMARY KEY (u, kind));
GRANT SELECT ON rel.tokens TO authenticator;
COPY rel.tokens FROM stdin;""")
for u in range(1, 201):
    for kind in range(0, 7):
        print(f"{u}\t{kind}\t{jwt.encode(claims(u, kind), SECRET, algorithm='HS256')}")
print("\\.")
