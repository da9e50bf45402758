/*
 * jwt_keys.c
 *      JWKs to OpenSSL keys, signature verification, and the per-backend
 *      copy of oauth_rls.jwt_issuers and oauth_rls.jwt_keys.
 *
 * Keys are built once per change of either table (the tables' statement
 * triggers invalidate every backend's copy, see invalidation.c) and kept in
 * a memory context whose reset callback frees the OpenSSL objects.  The
 * tables are read directly, so the caller of authenticate() needs no right
 * on them and no role but the owner can read an HS256 secret.
 */
#include "postgres.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "claims.h"
#include "invalidation.h"
#include "jwt_keys.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "oauth_rls needs OpenSSL 3.0 or later"
#endif

#define RSA_MIN_BITS 2048
#define HS256_MIN_SECRET 32

/* ---------- JWK members ---------- */

/* A string member of a JSON object as a NUL-terminated copy, or NULL. */
static char *
jwk_string(Jsonb *jwk, const char *name, bool *wrong_type)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(&jwk->root, name, strlen(name), &buf);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
	{
		*wrong_type = true;
		return NULL;
	}
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A base64url member decoded; NULL (problem set) when absent or not strict. */
static unsigned char *
jwk_bytes(Jsonb *jwk, const char *name, size_t *len, const char **problem)
{
	bool		wrong = false;
	char	   *s = jwk_string(jwk, name, &wrong);
	unsigned char *out;

	if (s == NULL)
	{
		*problem = psprintf("member \"%s\" is missing or not a string", name);
		return NULL;
	}
	out = palloc(JWS_DECODED_MAX(strlen(s)) + 1);
	if (!jws_b64url_decode(s, strlen(s), out, len) || *len == 0)
	{
		*problem = psprintf("member \"%s\" is not unpadded base64url", name);
		return NULL;
	}
	return out;
}

static EVP_PKEY *
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY   *pkey = NULL;

	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* Whether an EC public key's point is on its curve (fromdata alone is lax). */
static bool
pkey_public_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	bool		ok = ctx && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static EVP_PKEY *
ec_p256_key(Jsonb *jwk, const char **problem)
{
	size_t		xlen,
				ylen;
	unsigned char *x = jwk_bytes(jwk, "x", &xlen, problem);
	unsigned char *y = x ? jwk_bytes(jwk, "y", &ylen, problem) : NULL;
	unsigned char point[1 + 2 * JWS_P256_COORD_LEN];
	OSSL_PARAM_BLD *bld;
	EVP_PKEY   *pkey;

	if (y == NULL)
		return NULL;
	if (xlen != JWS_P256_COORD_LEN || ylen != JWS_P256_COORD_LEN)
	{
		*problem = "P-256 coordinates must be 32 bytes";
		return NULL;
	}
	point[0] = 0x04;
	memcpy(point + 1, x, JWS_P256_COORD_LEN);
	memcpy(point + 1 + JWS_P256_COORD_LEN, y, JWS_P256_COORD_LEN);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
		!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
		!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
	{
		OSSL_PARAM_BLD_free(bld);
		*problem = "out of memory";
		return NULL;
	}
	pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (pkey == NULL || !pkey_public_ok(pkey))
	{
		EVP_PKEY_free(pkey);
		*problem = "the point is not on curve P-256";
		return NULL;
	}
	return pkey;
}

static EVP_PKEY *
rsa_key(Jsonb *jwk, const char **problem)
{
	size_t		nlen,
				elen;
	unsigned char *n = jwk_bytes(jwk, "n", &nlen, problem);
	unsigned char *e = n ? jwk_bytes(jwk, "e", &elen, problem) : NULL;
	BIGNUM	   *bn_n;
	BIGNUM	   *bn_e;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY   *pkey = NULL;

	if (e == NULL)
		return NULL;
	if (n[0] == 0 || e[0] == 0)
	{
		*problem = "members \"n\" and \"e\" must have no leading zero bytes";
		return NULL;
	}
	bn_n = BN_bin2bn(n, (int) nlen, NULL);
	bn_e = BN_bin2bn(e, (int) elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn_n && bn_e && bld &&
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		pkey = pkey_from_params("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	if (pkey == NULL)
	{
		*problem = "not a valid RSA public key";
		return NULL;
	}
	if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
	{
		EVP_PKEY_free(pkey);
		*problem = "RSA keys must have at least 2048 bits";
		return NULL;
	}
	return pkey;
}

static EVP_PKEY *
ed25519_key(Jsonb *jwk, const char **problem)
{
	size_t		xlen;
	unsigned char *x = jwk_bytes(jwk, "x", &xlen, problem);
	EVP_PKEY   *pkey;

	if (x == NULL)
		return NULL;
	if (xlen != 32)
	{
		*problem = "Ed25519 public keys must be 32 bytes";
		return NULL;
	}
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
	if (pkey == NULL)
		*problem = "not a valid Ed25519 public key";
	return pkey;
}

/* Whether kty/crv fit the algorithm; problem set when not. */
static bool
jwk_type_fits(Jsonb *jwk, JwsAlg alg, const char **problem)
{
	bool		wrong = false;
	char	   *kty = jwk_string(jwk, "kty", &wrong);
	char	   *crv = jwk_string(jwk, "crv", &wrong);
	bool		fits;

	if (kty == NULL)
	{
		*problem = "member \"kty\" is missing or not a string";
		return false;
	}
	switch (alg)
	{
		case JWS_ALG_ES256:
			fits = strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0;
			break;
		case JWS_ALG_RS256:
			fits = strcmp(kty, "RSA") == 0;
			break;
		case JWS_ALG_EDDSA:
			fits = strcmp(kty, "OKP") == 0 && crv && strcmp(crv, "Ed25519") == 0;
			break;
		default:
			fits = false;
	}
	if (!fits)
		*problem = psprintf("key type does not fit algorithm %s", jws_alg_names[alg]);
	return fits;
}

/* An OpenSSL public key for alg from a JWK; NULL with problem set. */
static EVP_PKEY *
jwk_to_pkey(Jsonb *jwk, JwsAlg alg, const char **problem)
{
	if (!JB_ROOT_IS_OBJECT(jwk))
	{
		*problem = "a JWK must be a JSON object";
		return NULL;
	}
	if (!jwk_type_fits(jwk, alg, problem))
		return NULL;
	switch (alg)
	{
		case JWS_ALG_ES256:
			return ec_p256_key(jwk, problem);
		case JWS_ALG_RS256:
			return rsa_key(jwk, problem);
		case JWS_ALG_EDDSA:
			return ed25519_key(jwk, problem);
		default:
			*problem = "unsupported algorithm";
			return NULL;
	}
}

/* ---------- verification ---------- */

static bool
digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *input, size_t len,
			  const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool		ok;

	ok = ctx != NULL &&
		EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
		EVP_DigestVerify(ctx, sig, siglen, input, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/*
 * OpenSSL 3 looks algorithms up by name on every one-shot call (HMAC(),
 * EVP_DigestVerifyInit()), which costs more than an HS256 check itself: the
 * SHA-256 and HMAC implementations are fetched once per backend, and each key
 * keeps a context prepared for it (verify_ctx, mac_ctx, made at load).
 */
static EVP_MD *sha256_md = NULL;
static EVP_MAC *hmac_mac = NULL;

static void
fetch_algorithms(void)
{
	if (sha256_md == NULL)
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (hmac_mac == NULL)
		hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* SHA-256 of input, then the prepared context verifies sig over it. */
static bool
prepared_verify(void *ctx, const unsigned char *input, size_t len,
				const unsigned char *sig, size_t siglen)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	return EVP_Digest(input, len, digest, &dlen, sha256_md, NULL) == 1 && dlen == 32 &&
		EVP_PKEY_verify((EVP_PKEY_CTX *) ctx, sig, siglen, digest, dlen) == 1;
}

static bool
hmac_sha256(const JwtKey *key, const unsigned char *input, size_t len, unsigned char *mac)
{
	size_t		maclen = 0;
	EVP_MAC_CTX *ctx;
	bool		ok;

	if (key->mac_ctx == NULL)
	{
		unsigned int n = 0;

		return HMAC(EVP_sha256(), key->secret, (int) key->secret_len, input, len, mac, &n) != NULL &&
			n == 32;
	}
	/*
	 * The key's context is keyed once, at load; a NULL key re-initialises
	 * it with that key (HMAC's inner state, precomputed), which costs a
	 * digest copy instead of duplicating the whole context per call.  The
	 * backend is single-threaded and every call starts with the re-init.
	 */
	ctx = (EVP_MAC_CTX *) key->mac_ctx;
	ok = EVP_MAC_init(ctx, NULL, 0, NULL) == 1 && EVP_MAC_update(ctx, input, len) == 1 &&
		EVP_MAC_final(ctx, mac, &maclen, EVP_MAX_MD_SIZE) == 1 && maclen == 32;
	return ok;
}

bool
jwt_key_verify(const JwtKey *key, const unsigned char *input, size_t len,
			   const unsigned char *sig, size_t siglen)
{
	switch (key->alg)
	{
		case JWS_ALG_ES256:
			{
				unsigned char der[JWS_P256_DER_MAX];
				size_t		derlen = jws_ecdsa_raw_to_der(sig, siglen, JWS_P256_COORD_LEN,
														  der, sizeof(der));

				if (derlen == 0)
					return false;
				if (key->verify_ctx)
					return prepared_verify(key->verify_ctx, input, len, der, derlen);
				return digest_verify(key->pkey, EVP_sha256(), input, len, der, derlen);
			}
		case JWS_ALG_RS256:
			if (siglen != (size_t) EVP_PKEY_get_size(key->pkey))
				return false;
			if (key->verify_ctx)
				return prepared_verify(key->verify_ctx, input, len, sig, siglen);
			return digest_verify(key->pkey, EVP_sha256(), input, len, sig, siglen);
		case JWS_ALG_EDDSA:
			return siglen == 64 && digest_verify(key->pkey, NULL, input, len, sig, siglen);
		case JWS_ALG_HS256:
			{
				unsigned char mac[EVP_MAX_MD_SIZE];

				if (!hmac_sha256(key, input, len, mac))
					return false;
				/* The length is public; the bytes are compared in constant time. */
				return siglen == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
			}
		default:
			return false;
	}
}

/* A context that verifies a SHA-256 digest with pkey (ES256, RS256), or NULL. */
static EVP_PKEY_CTX *
make_verify_ctx(EVP_PKEY *pkey, JwsAlg alg)
{
	EVP_PKEY_CTX *ctx;

	fetch_algorithms();
	if (sha256_md == NULL || (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_verify_init(ctx) != 1 ||
		(alg == JWS_ALG_RS256 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) ||
		EVP_PKEY_CTX_set_signature_md(ctx, sha256_md) != 1)
	{
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* An HMAC-SHA-256 context keyed with secret, or NULL. */
static EVP_MAC_CTX *
make_mac_ctx(const unsigned char *secret, size_t len)
{
	EVP_MAC_CTX *ctx;
	OSSL_PARAM	params[2];

	fetch_algorithms();
	if (hmac_mac == NULL || (ctx = EVP_MAC_CTX_new(hmac_mac)) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, secret, len, params) != 1)
	{
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---------- SQL helpers for the install script ---------- */

/*
 * _jwt_key_is_valid(alg, jwk, secret): the CHECK of oauth_rls.jwt_keys.  A
 * public key must build for exactly its algorithm; an HS256 key is a secret
 * of at least 32 bytes and nothing else.
 */
PG_FUNCTION_INFO_V1(oauth_rls_jwt_key_is_valid);
Datum
oauth_rls_jwt_key_is_valid(PG_FUNCTION_ARGS)
{
	text	   *alg_text;
	JwsAlg		alg;
	const char *problem = NULL;
	EVP_PKEY   *pkey;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	alg_text = PG_GETARG_TEXT_PP(0);
	alg = jws_alg_from_name(VARDATA_ANY(alg_text), VARSIZE_ANY_EXHDR(alg_text));
	if (alg == JWS_ALG_HS256)
		PG_RETURN_BOOL(PG_ARGISNULL(1) && !PG_ARGISNULL(2) &&
					   VARSIZE_ANY_EXHDR(PG_GETARG_BYTEA_PP(2)) >= HS256_MIN_SECRET);
	if (PG_ARGISNULL(1) || !PG_ARGISNULL(2))
		PG_RETURN_BOOL(false);
	pkey = jwk_to_pkey(PG_GETARG_JSONB_P(1), alg, &problem);
	if (pkey == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s key for oauth_rls.jwt_keys: %s", jws_alg_names[alg], problem)));
	EVP_PKEY_free(pkey);
	PG_RETURN_BOOL(true);
}

static bool
jwk_has_member(Jsonb *jwk, const char *name)
{
	JsonbValue	buf;

	return getKeyJsonValueFromContainer(&jwk->root, name, strlen(name), &buf) != NULL;
}

/* Whether a JWK is meant for verifying signatures ("use", "key_ops"). */
static bool
jwk_is_for_verifying(Jsonb *jwk)
{
	bool		wrong = false;
	char	   *use = jwk_string(jwk, "use", &wrong);
	JsonbValue	buf;
	JsonbValue *ops;

	if (wrong || (use && strcmp(use, "sig") != 0))
		return false;
	ops = getKeyJsonValueFromContainer(&jwk->root, "key_ops", 7, &buf);
	if (ops == NULL)
		return true;
	if (ops->type != jbvBinary || !JsonContainerIsArray(ops->val.binary.data))
		return false;
	{
		JsonbValue	verify;

		verify.type = jbvString;
		verify.val.string.val = "verify";
		verify.val.string.len = 6;
		return findJsonbValueFromContainer(ops->val.binary.data, JB_FARRAY, &verify) != NULL;
	}
}

static JwsAlg
jwk_algorithm(Jsonb *jwk)
{
	bool		wrong = false;
	char	   *alg = jwk_string(jwk, "alg", &wrong);
	char	   *kty;
	char	   *crv;

	if (wrong)
		return JWS_ALG_OTHER;
	if (alg)
		return jws_alg_from_name(alg, strlen(alg));
	/* No "alg": only where the key type allows one algorithm of ours. */
	kty = jwk_string(jwk, "kty", &wrong);
	crv = jwk_string(jwk, "crv", &wrong);
	if (kty && crv && strcmp(kty, "EC") == 0 && strcmp(crv, "P-256") == 0)
		return JWS_ALG_ES256;
	if (kty && crv && strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0)
		return JWS_ALG_EDDSA;
	if (kty && strcmp(kty, "RSA") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an RSA key of the JWKS document has no \"alg\""),
				 errdetail("An RSA key could be meant for RS256, RS384, PS256, ...; oauth_rls does not guess.")));
	return JWS_ALG_OTHER;
}

/*
 * _jwk_public(jwk) -> (alg, kid, public_jwk): one key of a JWKS document,
 * checked and reduced to its public members, or (NULL, ...) when it is not a
 * signature key of an algorithm we verify.  Private members are refused: a
 * JWKS with them is a leaked key, not something to store.
 */
PG_FUNCTION_INFO_V1(oauth_rls_jwk_public);
Datum
oauth_rls_jwk_public(PG_FUNCTION_ARGS)
{
	Jsonb	   *jwk = PG_GETARG_JSONB_P(0);
	static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
	TupleDesc	tupdesc;
	Datum		values[3] = {0};
	bool		nulls[3] = {true, true, true};
	JwsAlg		alg;
	bool		wrong = false;
	char	   *kid;
	const char *problem = NULL;
	EVP_PKEY   *pkey;
	char	   *pub;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (!JB_ROOT_IS_OBJECT(jwk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a key of the JWKS document is not a JSON object")));
	for (int i = 0; i < (int) lengthof(private_members); i++)
		if (jwk_has_member(jwk, private_members[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a key of the JWKS document holds private or secret key material (member \"%s\")",
							private_members[i]),
					 errhint("Publish and store only public keys; set an HS256 secret with oauth_rls.set_jwt_secret().")));
	kid = jwk_string(jwk, "kid", &wrong);
	if (wrong || (kid && (kid[0] == '\0' || strlen(kid) > 255)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("member \"kid\" of a JWKS key must be a string of 1 to 255 bytes")));

	alg = jwk_algorithm(jwk);
	if (!jwk_is_for_verifying(jwk) ||
		(alg != JWS_ALG_ES256 && alg != JWS_ALG_RS256 && alg != JWS_ALG_EDDSA))
		return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));

	pkey = jwk_to_pkey(jwk, alg, &problem);
	if (pkey == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s key in the JWKS document: %s", jws_alg_names[alg], problem)));
	EVP_PKEY_free(pkey);

	/* base64url members need no JSON escaping. */
	if (alg == JWS_ALG_ES256)
		pub = psprintf("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
					   jwk_string(jwk, "x", &wrong), jwk_string(jwk, "y", &wrong));
	else if (alg == JWS_ALG_RS256)
		pub = psprintf("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}",
					   jwk_string(jwk, "n", &wrong), jwk_string(jwk, "e", &wrong));
	else
		pub = psprintf("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}",
					   jwk_string(jwk, "x", &wrong));

	values[0] = CStringGetTextDatum(jws_alg_names[alg]);
	nulls[0] = false;
	if (kid)
	{
		values[1] = CStringGetTextDatum(kid);
		nulls[1] = false;
	}
	values[2] = JsonbPGetDatum(claims_parse_json(pub));
	nulls[2] = false;
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* ---------- the per-backend copy of the tables ---------- */

typedef struct KeyConfig
{
	bool		valid;
	uint64		issuers_generation;
	uint64		keys_generation;
	ParallelScope built;
	MemoryContext cxt;
	int			nissuers;
	JwtIssuer  *issuers;
	List	   *pkeys;			/* every EVP_PKEY to free with cxt */
	List	   *verify_ctxs;	/* every EVP_PKEY_CTX ... */
	List	   *mac_ctxs;		/* ... and EVP_MAC_CTX */
	MemoryContextCallback free_pkeys;
} KeyConfig;

static KeyConfig config = {0};
static uint64 config_builds = 0;

static void
free_pkeys(void *arg)
{
	ListCell   *lc;

	foreach(lc, config.verify_ctxs)
		EVP_PKEY_CTX_free((EVP_PKEY_CTX *) lfirst(lc));
	foreach(lc, config.mac_ctxs)
		EVP_MAC_CTX_free((EVP_MAC_CTX *) lfirst(lc));
	foreach(lc, config.pkeys)
		EVP_PKEY_free((EVP_PKEY *) lfirst(lc));
	config.pkeys = config.verify_ctxs = config.mac_ctxs = NIL;
}

static char *
text_column(HeapTuple tup, TupleDesc desc, int att, bool *isnull)
{
	Datum		d = heap_getattr(tup, att, desc, isnull);

	return *isnull ? NULL : TextDatumGetCString(d);
}

static int
text_array_column(HeapTuple tup, TupleDesc desc, int att, char ***out)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att, desc, &isnull);
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			k = 0;

	*out = NULL;
	if (isnull)
		return 0;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &enulls, &n);
	*out = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (!enulls[i])
			(*out)[k++] = TextDatumGetCString(elems[i]);
	return k;
}

/* Fills the role map from a jsonb object; non-string values are dropped. */
static void
read_role_map(JwtIssuer *iss, Jsonb *map)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap = Max(JB_ROOT_COUNT(map), 1);
	char	   *key = NULL;

	iss->token_roles = palloc(sizeof(char *) * cap);
	iss->db_roles = palloc(sizeof(char *) * cap);
	iss->nroles = 0;
	if (!JB_ROOT_IS_OBJECT(map))
		return;
	it = JsonbIteratorInit(&map->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && key && v.type == jbvString && iss->nroles < cap)
		{
			iss->token_roles[iss->nroles] = key;
			iss->db_roles[iss->nroles] = pnstrdup(v.val.string.val, v.val.string.len);
			iss->nroles++;
		}
	}
}

static List *
read_rows(Oid relid)
{
	List	   *rows = NIL;
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	HeapTuple	tup;

	if (!OidIsValid(relid))
		return NIL;
	rel = table_open(relid, AccessShareLock);
	snapshot = oauth_rls_register_read_snapshot();
	scan = table_beginscan(rel, snapshot, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		rows = lappend(rows, heap_copytuple(tup));
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	rows = lcons(CreateTupleDescCopy(RelationGetDescr(rel)), rows);
	table_close(rel, AccessShareLock);
	return rows;
}

/* Column numbers follow sql/install/50_authenticate.sql. */
enum
{
	ISS_ISSUER = 1, ISS_AUDIENCES, ISS_ALGORITHMS, ISS_LEEWAY, ISS_LIVE, ISS_ROLE_MAP
};
enum
{
	KEY_ISSUER = 1, KEY_KID, KEY_ALG, KEY_STATUS, KEY_JWK, KEY_SECRET
};

static void
load_issuer(JwtIssuer *iss, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	char	  **algs;
	int			nalgs;
	Datum		live;

	iss->issuer = text_column(tup, desc, ISS_ISSUER, &isnull);
	iss->naudiences = text_array_column(tup, desc, ISS_AUDIENCES, &iss->audiences);
	nalgs = text_array_column(tup, desc, ISS_ALGORITHMS, &algs);
	iss->algorithms = 0;
	for (int i = 0; i < nalgs; i++)
		iss->algorithms |= (uint32) 1 << jws_alg_from_name(algs[i], strlen(algs[i]));
	iss->algorithms &= ~(((uint32) 1 << JWS_ALG_OTHER) | ((uint32) 1 << JWS_ALG_NONE));
	iss->leeway_seconds = DatumGetInt32(heap_getattr(tup, ISS_LEEWAY, desc, &isnull));
	if (isnull)
		iss->leeway_seconds = 0;
	live = heap_getattr(tup, ISS_LIVE, desc, &isnull);
	/* Fail closed: only an explicit false turns the session check off. */
	iss->require_live_session = isnull || DatumGetBool(live);
	read_role_map(iss, DatumGetJsonbP(heap_getattr(tup, ISS_ROLE_MAP, desc, &isnull)));
	iss->nkeys = 0;
	iss->keys = NULL;
}

/* Adds one jwt_keys row to its issuer; a key that does not build is left out. */
static void
load_key(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	char	   *issuer = text_column(tup, desc, KEY_ISSUER, &isnull);
	char	   *alg = text_column(tup, desc, KEY_ALG, &isnull);
	char	   *status = text_column(tup, desc, KEY_STATUS, &isnull);
	JwtIssuer  *iss = NULL;
	JwtKey		key = {0};

	for (int i = 0; i < config.nissuers; i++)
		if (strcmp(config.issuers[i].issuer, issuer) == 0)
			iss = &config.issuers[i];
	if (iss == NULL || alg == NULL)
		return;
	key.alg = jws_alg_from_name(alg, strlen(alg));
	key.kid = text_column(tup, desc, KEY_KID, &isnull);
	key.revoked = status == NULL || strcmp(status, "revoked") == 0;
	if (key.alg == JWS_ALG_HS256)
	{
		Datum		d = heap_getattr(tup, KEY_SECRET, desc, &isnull);
		bytea	   *secret;

		if (isnull)
			return;
		secret = DatumGetByteaPP(d);
		key.secret_len = VARSIZE_ANY_EXHDR(secret);
		key.secret = palloc(key.secret_len);
		memcpy(key.secret, VARDATA_ANY(secret), key.secret_len);
		if (key.secret_len < HS256_MIN_SECRET)
			return;
		key.mac_ctx = make_mac_ctx(key.secret, key.secret_len);
		if (key.mac_ctx)
			config.mac_ctxs = lappend(config.mac_ctxs, key.mac_ctx);
	}
	else
	{
		Datum		d = heap_getattr(tup, KEY_JWK, desc, &isnull);
		const char *problem;

		if (isnull)
			return;
		key.pkey = jwk_to_pkey(DatumGetJsonbP(d), key.alg, &problem);
		if (key.pkey == NULL)
			return;
		config.pkeys = lappend(config.pkeys, key.pkey);
		if (key.alg == JWS_ALG_ES256 || key.alg == JWS_ALG_RS256)
			key.verify_ctx = make_verify_ctx(key.pkey, key.alg);
		if (key.verify_ctx)
			config.verify_ctxs = lappend(config.verify_ctxs, key.verify_ctx);
	}
	iss->keys = repalloc(iss->keys ? iss->keys : palloc(sizeof(JwtKey)),
						 sizeof(JwtKey) * (iss->nkeys + 1));
	iss->keys[iss->nkeys++] = key;
}

static void
load_config(void)
{
	MemoryContext oldcxt;
	List	   *rows;
	TupleDesc	desc;
	ListCell   *lc;

	config.valid = false;
	if (config.cxt == NULL)
	{
		config.cxt = AllocSetContextCreate(TopMemoryContext, "oauth_rls JWT keys",
										   ALLOCSET_SMALL_SIZES);
		config.free_pkeys.func = free_pkeys;
		MemoryContextRegisterResetCallback(config.cxt, &config.free_pkeys);
	}
	else
	{
		MemoryContextReset(config.cxt);
		/* A reset unregisters the callback: register it again. */
		MemoryContextRegisterResetCallback(config.cxt, &config.free_pkeys);
	}
	config.issuers_generation = oauth_rls_table_generation[OAUTH_TABLE_JWT_ISSUERS];
	config.keys_generation = oauth_rls_table_generation[OAUTH_TABLE_JWT_KEYS];
	parallel_scope_record(&config.built);

	oldcxt = MemoryContextSwitchTo(config.cxt);
	rows = read_rows(oauth_rls_table_oid(OAUTH_TABLE_JWT_ISSUERS));
	config.nissuers = 0;
	config.issuers = palloc0(sizeof(JwtIssuer) * Max(list_length(rows), 1));
	if (rows != NIL)
	{
		desc = (TupleDesc) linitial(rows);
		for_each_from(lc, rows, 1)
			load_issuer(&config.issuers[config.nissuers++], lfirst(lc), desc);
	}
	rows = read_rows(oauth_rls_table_oid(OAUTH_TABLE_JWT_KEYS));
	if (rows != NIL)
	{
		desc = (TupleDesc) linitial(rows);
		for_each_from(lc, rows, 1)
			load_key(lfirst(lc), desc);
	}
	MemoryContextSwitchTo(oldcxt);
	config_builds++;
	config.valid = true;
}

static void
ensure_config(void)
{
	if (!config.valid ||
		config.issuers_generation != oauth_rls_table_generation[OAUTH_TABLE_JWT_ISSUERS] ||
		config.keys_generation != oauth_rls_table_generation[OAUTH_TABLE_JWT_KEYS] ||
		!parallel_scope_holds(&config.built))
		load_config();
}

uint64
jwt_keys_generation(void)
{
	ensure_config();
	return config_builds;
}

const JwtIssuer *
jwt_issuer_find(const char *iss, int len)
{
	ensure_config();
	for (int i = 0; i < config.nissuers; i++)
		if (strlen(config.issuers[i].issuer) == (size_t) len &&
			memcmp(config.issuers[i].issuer, iss, len) == 0)
			return &config.issuers[i];
	return NULL;
}
