/*
 * jwt_keys.h
 *      Issuers and verification keys for oauth_rls.authenticate(): JWKs
 *      turned into OpenSSL keys, signature checks, and the per-backend copy of
 *      oauth_rls.jwt_issuers and oauth_rls.jwt_keys.
 */
#ifndef OAUTH_RLS_JWT_KEYS_H
#define OAUTH_RLS_JWT_KEYS_H

#include "oauth_rls.h"

#include "jws_parse.h"

typedef struct JwtKey
{
	JwsAlg		alg;			/* the one algorithm this key verifies */
	char	   *kid;			/* NULL: the key has no kid */
	bool		revoked;
	void	   *pkey;			/* EVP_PKEY * (ES256, RS256, EdDSA) */
	void	   *verify_ctx;		/* EVP_PKEY_CTX * ready to verify a digest (ES256, RS256) */
	void	   *mac_ctx;		/* EVP_MAC_CTX * keyed with the secret (HS256) */
	unsigned char *secret;		/* HS256 */
	size_t		secret_len;
} JwtKey;

typedef struct JwtIssuer
{
	char	   *issuer;
	int			naudiences;
	char	  **audiences;
	uint32		algorithms;		/* bit (1 << JwsAlg) per allowed algorithm */
	int			leeway_seconds;
	bool		require_live_session;
	int			nroles;
	char	  **token_roles;	/* role claim values ... */
	char	  **db_roles;		/* ... and the database roles they map to */
	int			nkeys;
	JwtKey	   *keys;
} JwtIssuer;

/* The issuer named exactly iss[0..len), NULL when not configured. */
extern const JwtIssuer *jwt_issuer_find(const char *iss, int len);

/* Bumps when anything the issuer/key cache holds may have changed. */
extern uint64 jwt_keys_generation(void);

/* Whether sig is key's signature of input[0..len).  Constant time for HS256. */
extern bool jwt_key_verify(const JwtKey *key, const unsigned char *input, size_t len,
						   const unsigned char *sig, size_t siglen);

#endif							/* OAUTH_RLS_JWT_KEYS_H */
