#!/usr/bin/python3
"""bench/jwt_tokens.py ROUNDS REPS: SQL that sets up an issuer with fresh ES256
and HS256 keys and fills bench.jwt_tokens with tokens minted here by PyJWT
(an implementation independent of oauth_rls): for every round (0 = warm-up)
and repetition a distinct ES256 and a distinct HS256 token, so that each one
is a first verification, and one token used over and over (the cache hit)."""
import json
import sys
import time

import jwt
from jwcrypto import jwk

rounds, reps = int(sys.argv[1]), int(sys.argv[2])
ISS = "https://bench.supabase.co/auth/v1"
# HS256 is compared with the pgjwt way, which checks signature and exp only:
# its issuer has no live-session requirement, so both do the same check.
ISS_HS = "https://bench-hs256.example/auth/v1"
USER = "00000000-0000-4000-8000-00000000b0b0"
SESSION = "00000000-0000-4000-8000-00000000b5e5"
SECRET = "bench-jwt-secret-with-at-least-thirty-two-bytes"
key = jwk.JWK.generate(kty="EC", crv="P-256", kid="bench-es")
pem = key.export_to_pem(private_key=True, password=None)
pub = key.export_public(as_dict=True)
pub.update(alg="ES256", use="sig")
now = int(time.time())


def claims(i, iss=ISS):
    # Supabase-shaped (contract section 2), distinct per token by jti.
    return {"iss": iss, "sub": USER, "aud": "authenticated", "exp": now + 86400, "iat": now,
            "email": "bench@example.com", "phone": "", "role": "authenticated", "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}], "session_id": SESSION,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {"email_verified": True}, "is_anonymous": False, "jti": f"bench-{i}"}


print(f"""INSERT INTO auth.users (id, email) VALUES ('{USER}', 'bench@example.com') ON CONFLICT DO NOTHING;
INSERT INTO auth.sessions (id, user_id) VALUES ('{SESSION}', '{USER}') ON CONFLICT DO NOTHING;
INSERT INTO oauth_rls.jwt_issuers (issuer, algorithms) VALUES ('{ISS}', '{{ES256}}');
INSERT INTO oauth_rls.jwt_issuers (issuer, algorithms, require_live_session) VALUES ('{ISS_HS}', '{{HS256}}', false);
SELECT oauth_rls.set_jwks('{ISS}', '{json.dumps({"keys": [pub]})}');
SELECT oauth_rls.set_jwt_secret('{ISS_HS}', '{SECRET}');
CREATE TABLE bench.jwt_tokens (kind text, round int, i int, token text, PRIMARY KEY (kind, round, i));
CREATE TABLE bench.jwt_secret AS SELECT '{SECRET}'::text AS secret;
COPY bench.jwt_tokens FROM stdin;""")
n = 0
for r in range(rounds + 1):
    for i in range(reps):
        n += 1
        print(f"es256\t{r}\t{i}\t{jwt.encode(claims(n), pem, algorithm='ES256', headers={'kid': 'bench-es'})}")
        print(f"hs256\t{r}\t{i}\t{jwt.encode(claims(n, ISS_HS), SECRET, algorithm='HS256')}")
print(f"repeated\t0\t0\t{jwt.encode(claims(0), pem, algorithm='ES256', headers={'kid': 'bench-es'})}")
print("\\.")
