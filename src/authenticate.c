/*
 * authenticate.c
 *      oauth_rls.authenticate(token text) -> jsonb.
 *
 * A backend that connects directly (an MCP server, a FastAPI or Go service)
 * hands the user's access token to the database, which verifies it and, for
 * the current transaction only, sets request.jwt.claims and the role exactly
 * as PostgREST would: from then on every claim function and policy sees the
 * same request as through the Data API.  Safe behind a transaction-mode
 * pooler: nothing outlives the transaction.
 *
 * Order of checks (docs/direct-connections.md): compact JWS grammar and
 * header (jws_parse.c; no alg none, crit, jku, x5u, jwk, x5c), strict JSON
 * (no duplicate keys, bounded depth), issuer by exact iss, algorithm allowed
 * for the issuer, a key of that issuer only (by kid, or every key of the
 * algorithm), signature, iss again, exp/nbf/iat with leeway, aud, not an ID
 * token, role map, live session, deny-list.  A verified token is cached by its
 * exact text; time claims and revocation are checked again on every call.
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_collation.h"
#include "commands/dbcommands.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "common/jsonapi.h"
#include "common/string.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "auth_session.h"
#include "authenticate.h"
#include "claims.h"
#include "claims_parse.h"
#include "invalidation.h"
#include "jws_parse.h"
#include "jwt_json.h"
#include "jwt_keys.h"
#include "token_only.h"

/* PostgREST maps SQLSTATE PTnnn to HTTP status nnn. */
#define ERRCODE_JWT_INVALID MAKE_SQLSTATE('P', 'T', '4', '0', '1')

/* Raises the error every refused token gets; never the token or a claim. */
/* PostgreSQL 18 replaced pg_attribute_noreturn() by pg_noreturn (C11 _Noreturn). */
#if PG_VERSION_NUM >= 180000
pg_noreturn static void
#else
static void pg_attribute_noreturn()
#endif
refuse(const char *message, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_JWT_INVALID),
			 errmsg("%s", message),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("The token is not shown.  Nothing was set: the request has no claims.")));
	pg_unreachable();
}

/* ---------- strict JSON (jwt_json.c) ---------- */

/*
 * The jsonb of one decoded part, or a refusal.  The bytes must be UTF-8
 * without NUL, one JSON object, nesting at most JWT_MAX_JSON_DEPTH, and no
 * key twice in one object.
 */
static JsonbValue *
strict_json(char *bytes, size_t len, const char *part)
{
	JsonbValue *tree;

	if (jws_has_nul((unsigned char *) bytes, len) ||
		!pg_verify_mbstr(PG_UTF8, bytes, (int) len, true))
		refuse("JWT is malformed", psprintf("The %s is not UTF-8 text.", part));
	bytes[len] = '\0';			/* pg_is_ascii and the parser read to it */
	if (GetDatabaseEncoding() != PG_UTF8 && !pg_is_ascii(bytes))
		refuse("JWT is malformed",
			   psprintf("The %s is not ASCII, and this database's encoding is not UTF8.", part));

	switch (jwt_json_parse(bytes, len, JWT_MAX_JSON_DEPTH, &tree))
	{
		case JWT_JSON_OK:
			break;
		case JWT_JSON_INVALID:
			refuse("JWT is malformed", psprintf("The %s is not valid JSON.", part));
		case JWT_JSON_NOT_OBJECT:
			refuse("JWT is malformed", psprintf("The %s is not a JSON object.", part));
		case JWT_JSON_TOO_DEEP:
			refuse("JWT is malformed", psprintf("In the %s, JSON nesting is too deep.", part));
		case JWT_JSON_DUPLICATE_KEY:
			refuse("JWT is malformed", psprintf("In the %s, a JSON object has the same key twice.", part));
		case JWT_JSON_BAD_NUMBER:
			refuse("JWT is malformed", psprintf("In the %s, a number is out of range.", part));
	}
	return tree;
}

/* ---------- claims ---------- */

static const JsonbValue *
member(const JsonbValue *obj, const char *name)
{
	return jwt_json_member(obj, name);
}

/*
 * A string member as a C string (NULL when absent; the tree's own,
 * NUL-terminated); refused if not a string.
 */
static const char *
string_member(const JsonbValue *obj, const char *name, const char *part)
{
	const JsonbValue *v = member(obj, name);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		refuse("JWT is malformed", psprintf("\"%s\" in the %s is not a string.", name, part));
	return v->val.string.val;
}

/* A NumericDate claim: *has false when absent; refused if not a number. */
static double
time_claim(const JsonbValue *claims, const char *name, bool *has)
{
	const JsonbValue *v = member(claims, name);
	char	   *digits;
	double		t;

	*has = v != NULL;
	if (v == NULL)
		return 0;
	if (v->type != jbvNumeric)
		refuse("JWT is malformed", psprintf("Claim \"%s\" is not a number.", name));
	/*
	 * numeric_out never fails; strtod saturates instead of erroring.  A time
	 * beyond a double (exp 1e400) would never expire: refused.
	 */
	digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	t = strtod(digits, NULL);
	if (!isfinite(t))
		refuse("JWT is malformed", psprintf("Claim \"%s\" is out of range.", name));
	return t;
}

static double
unix_now(void)
{
	return (double) GetCurrentTimestamp() / USECS_PER_SEC +
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

static bool
audience_allowed(const JwtIssuer *iss, const char *aud, int len)
{
	for (int i = 0; i < iss->naudiences; i++)
		if (strlen(iss->audiences[i]) == (size_t) len && memcmp(iss->audiences[i], aud, len) == 0)
			return true;
	return false;
}

/* aud is required: a string or an array of strings, one of them allowed. */
static void
check_audience(const JwtIssuer *iss, const JsonbValue *claims, const char *client_id)
{
	const JsonbValue *v = member(claims, "aud");
	bool		allowed = false;
	bool		is_client = false;

	if (v == NULL)
		refuse("JWT not in audience", "The token has no \"aud\" claim.");
	if (v->type == jbvString)
	{
		allowed = audience_allowed(iss, v->val.string.val, v->val.string.len);
		is_client = client_id && strlen(client_id) == (size_t) v->val.string.len &&
			memcmp(client_id, v->val.string.val, v->val.string.len) == 0;
	}
	else if (v->type == jbvArray)
	{
		for (int i = 0; i < v->val.array.nElems; i++)
		{
			const JsonbValue *e = &v->val.array.elems[i];

			if (e->type != jbvString)
				refuse("JWT is malformed", "Claim \"aud\" holds a value that is not a string.");
			allowed |= audience_allowed(iss, e->val.string.val, e->val.string.len);
			is_client |= client_id && strlen(client_id) == (size_t) e->val.string.len &&
				memcmp(client_id, e->val.string.val, e->val.string.len) == 0;
		}
	}
	else
		refuse("JWT is malformed", "Claim \"aud\" is neither a string nor an array of strings.");
	if (is_client)
		refuse("JWT is not an access token", "Its audience is its own client (an ID token).");
	if (!allowed)
		refuse("JWT not in audience", "No audience of the token is allowed for its issuer.");
}

/* ---------- what a verified token sets, cached by token text ---------- */

typedef struct VerifiedToken
{
	uint64		hash;			/* hash key: of the token text */
	char	   *token;			/* the exact text, compared on a hit */
	int			token_len;
	char	   *claims_text;	/* what request.jwt.claims is set to */
	Jsonb	   *claims;
	char	   *db_role;
	double		exp;
	bool		has_nbf;
	double		nbf;
	bool		has_iat;
	double		iat;
	int			leeway;
	bool		check_session;	/* the issuer requires a live session */
	bool		has_session;
	pg_uuid_t	session_id;
	pg_uuid_t	user_id;
	const char *session_text;	/* session_id as in the token, for the deny-list */
	const char *jti;
} VerifiedToken;

static MemoryContext token_cxt = NULL;
static HTAB *token_cache = NULL;
static uint64 token_cache_keys = 0;	/* jwt_keys_generation() it was filled under */
static long token_cache_inserts = 0;

/*
 * The entry the last call used: a backend serving one user's requests
 * presents the same token again and again, and comparing it with this one
 * spares hashing the whole text (a quarter of a cache hit).  Entries stay
 * where they are until the cache is reset, which forgets this too.
 */
static VerifiedToken *token_cache_last = NULL;

static void
token_cache_reset(uint64 keys_generation)
{
	HASHCTL		ctl;

	if (token_cxt == NULL)
		token_cxt = AllocSetContextCreate(TopMemoryContext, "oauth_rls JWT cache",
										  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(token_cxt);
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(VerifiedToken);
	ctl.hcxt = token_cxt;
	token_cache = hash_create("oauth_rls JWT cache", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	token_cache_keys = keys_generation;
	token_cache_inserts = 0;
	token_cache_last = NULL;
}

/*
 * The cached verification of exactly this text, or NULL; *hash is set
 * (computed) only when the last entry used is not it.
 */
static VerifiedToken *
token_cache_lookup(const char *token, int len, uint64 *hash)
{
	uint64		keys = jwt_keys_generation();
	VerifiedToken *vt;

	if (token_cache == NULL || token_cache_keys != keys)
		token_cache_reset(keys);
	vt = token_cache_last;
	if (vt && vt->token_len == len && memcmp(vt->token, token, len) == 0)
		return vt;
	*hash = hash_bytes_extended((const unsigned char *) token, len, 0);
	vt = hash_search(token_cache, hash, HASH_FIND, NULL);
	if (vt && vt->token_len == len && memcmp(vt->token, token, len) == 0)
		return token_cache_last = vt;
	return NULL;
}

static void
token_cache_store(const VerifiedToken *src)
{
	VerifiedToken *vt;
	MemoryContext oldcxt;
	bool		found;

	/* Keys changed while verifying (the lookup reset the cache): keep nothing. */
	if (token_cache == NULL || token_cache_keys != jwt_keys_generation())
		return;
	if (token_cache_inserts >= JWT_TOKEN_CACHE_MAX)
		token_cache_reset(token_cache_keys);
	vt = hash_search(token_cache, &src->hash, HASH_ENTER, &found);
	oldcxt = MemoryContextSwitchTo(token_cxt);
	*vt = *src;
	vt->token = pnstrdup(src->token, src->token_len);
	vt->claims_text = pstrdup(src->claims_text);
	vt->claims = (Jsonb *) DatumGetPointer(datumCopy(JsonbPGetDatum(src->claims), false, -1));
	vt->db_role = pstrdup(src->db_role);
	vt->session_text = src->session_text ? pstrdup(src->session_text) : NULL;
	vt->jti = src->jti ? pstrdup(src->jti) : NULL;
	MemoryContextSwitchTo(oldcxt);
	token_cache_inserts++;
	token_cache_last = vt;
}

/* ---------- verification ---------- */

/* A part's JSON tree; *text (when not NULL) gets its JSON text as decoded. */
static JsonbValue *
decode_part(const char *token, size_t off, size_t len, const char *part, char **text)
{
	char	   *bytes = palloc(JWS_DECODED_MAX(len) + 1);
	size_t		n;

	if (!jws_b64url_decode(token + off, len, (unsigned char *) bytes, &n))
		refuse("JWT is malformed", psprintf("The %s is not unpadded base64url.", part));
	if (text)
		*text = bytes;
	return strict_json(bytes, n, part);
}

static JwsAlg
check_header(const JsonbValue *header, const char **kid)
{
	static const char *const refused[] = {"crit", "jku", "x5u", "jwk", "x5c", "b64", "zip", "enc"};
	const char *alg;
	JwsAlg		a;

	for (int i = 0; i < (int) lengthof(refused); i++)
		if (member(header, refused[i]) != NULL)
			refuse("JWT header is not accepted",
				   psprintf("Header parameter \"%s\" is refused: keys come only from oauth_rls.jwt_keys, and no extension is understood.",
							refused[i]));
	alg = string_member(header, "alg", "header");
	if (alg == NULL)
		refuse("JWT is malformed", "The header has no \"alg\".");
	a = jws_alg_from_name(alg, strlen(alg));
	if (a == JWS_ALG_NONE)
		refuse("JWT header is not accepted", "Unsigned tokens (alg \"none\") are refused.");
	if (a == JWS_ALG_OTHER)
		refuse("JWT algorithm not accepted", "Supported: ES256, RS256, EdDSA, HS256.");
	(void) string_member(header, "typ", "header");
	*kid = string_member(header, "kid", "header");
	return a;
}

/* Verifies the signature with the issuer's keys only. */
static void
check_signature(const JwtIssuer *iss, JwsAlg alg, const char *kid, const char *token,
				const JwsParts *parts)
{
	unsigned char *sig = palloc(JWS_DECODED_MAX(parts->signature_len) + 1);
	size_t		siglen;
	bool		candidate = false;

	if (!jws_b64url_decode(token + parts->signature_off, parts->signature_len, sig, &siglen))
		refuse("JWT is malformed", "The signature is not unpadded base64url.");
	for (int i = 0; i < iss->nkeys; i++)
	{
		const JwtKey *key = &iss->keys[i];

		if (key->alg != alg || key->revoked)
			continue;
		if (kid != NULL && (key->kid == NULL || strcmp(key->kid, kid) != 0))
			continue;
		candidate = true;
		if (jwt_key_verify(key, (const unsigned char *) token, parts->signing_input_len, sig, siglen))
			return;
	}
	if (!candidate)
		refuse("No suitable key or wrong key type",
			   "No key of the token's issuer in use has the token's kid and algorithm.");
	refuse("JWT signature is invalid", NULL);
}

static const char *
mapped_role(const JwtIssuer *iss, const char *role)
{
	for (int i = 0; i < iss->nroles; i++)
		if (strcmp(iss->token_roles[i], role) == 0)
			return iss->db_roles[i];
	return NULL;
}

/* Everything about a token that does not change with time: into *vt. */
static void
verify_token(const char *token, int len, VerifiedToken *vt)
{
	JwsParts	parts;
	JwsStatus	st = jws_split(token, len, &parts);
	const JsonbValue *header;
	const JsonbValue *claims;
	Jsonb	   *jb;
	const char *kid;
	const char *iss_claim;
	const JwtIssuer *iss;
	JwsAlg		alg;
	const char *role;
	const char *client_id;
	const char *sub;
	bool		has_exp;
	char	   *payload_text;

	switch (st)
	{
		case JWS_OK:
			break;
		case JWS_EMPTY:
			refuse("JWT is malformed", "The token is empty.");
		case JWS_TOO_LONG:
			refuse("JWT is malformed", psprintf("The token is longer than %d bytes.", JWS_MAX_TOKEN_LEN));
		case JWS_NOT_THREE_PARTS:
		case JWS_EMPTY_PART:
			refuse("JWT is malformed", "Expected compact JWS: three non-empty parts separated by dots.");
		case JWS_BAD_BASE64:
			refuse("JWT is malformed", "A part is not unpadded base64url.");
	}
	header = decode_part(token, parts.header_off, parts.header_len, "header", NULL);
	alg = check_header(header, &kid);
	claims = decode_part(token, parts.payload_off, parts.payload_len, "payload", &payload_text);

	/* The issuer is picked by the unverified iss; only its keys are tried. */
	iss_claim = string_member(claims, "iss", "payload");
	if (iss_claim == NULL)
		refuse("JWT issuer not accepted", "The token has no \"iss\" claim.");
	iss = jwt_issuer_find(iss_claim, strlen(iss_claim));
	if (iss == NULL)
		refuse("JWT issuer not accepted", "The token's iss is not in oauth_rls.jwt_issuers.");
	if ((iss->algorithms & ((uint32) 1 << alg)) == 0)
		refuse("JWT algorithm not accepted", "The token's algorithm is not allowed for its issuer.");
	check_signature(iss, alg, kid, token, &parts);

	/* Verified: the payload is the issuer's; check it names that issuer. */
	if (strcmp(string_member(claims, "iss", "payload"), iss->issuer) != 0)
		refuse("JWT issuer not accepted", NULL);

	vt->exp = time_claim(claims, "exp", &has_exp);
	if (!has_exp)
		refuse("JWT is malformed", "The token has no \"exp\" claim.");
	vt->nbf = time_claim(claims, "nbf", &vt->has_nbf);
	vt->iat = time_claim(claims, "iat", &vt->has_iat);
	vt->leeway = iss->leeway_seconds;

	/* ID tokens share key and iss with access tokens: tell them apart. */
	if (member(claims, "nonce") != NULL)
		refuse("JWT is not an access token", "It has a \"nonce\" claim (an ID token).");
	client_id = string_member(claims, "client_id", "payload");
	check_audience(iss, claims, client_id);
	role = string_member(claims, "role", "payload");
	if (role == NULL)
		refuse("JWT is not an access token", "It has no \"role\" claim.");
	vt->db_role = (char *) mapped_role(iss, role);
	if (vt->db_role == NULL)
		refuse("JWT role not allowed", "The token's role is not in its issuer's role_map.");
	vt->db_role = pstrdup(vt->db_role);

	vt->jti = string_member(claims, "jti", "payload");
	vt->session_text = string_member(claims, "session_id", "payload");
	vt->check_session = iss->require_live_session;
	vt->has_session = vt->session_text != NULL;
	if (vt->check_session)
	{
		sub = string_member(claims, "sub", "payload");
		if (vt->has_session &&
			(!claims_parse_uuid(vt->session_text, strlen(vt->session_text), vt->session_id.data) ||
			 sub == NULL || !claims_parse_uuid(sub, strlen(sub), vt->user_id.data)))
			refuse("JWT is malformed", "Claims \"session_id\" and \"sub\" must be uuids.");
		if (!vt->has_session && strcmp(role, "anon") != 0)
			refuse("JWT session is not active", "The token has no \"session_id\", and its issuer requires a live session.");
	}

	/*
	 * request.jwt.claims is the payload as signed (PostgREST's too is the
	 * payload), unless the role map changes the role it carries.
	 */
	vt->claims_text = payload_text;
	jb = JsonbValueToJsonb((JsonbValue *) claims);
	if (strcmp(role, vt->db_role) != 0)
	{
		StringInfoData patch;

		initStringInfo(&patch);
		appendStringInfoString(&patch, "{\"role\": ");
		escape_json(&patch, vt->db_role);
		appendStringInfoChar(&patch, '}');
		jb = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(jb),
												JsonbPGetDatum(claims_parse_json(patch.data))));
		vt->claims_text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	vt->claims = jb;
}

/* ---------- checked on every call, cached or not ---------- */

static void
check_times(const VerifiedToken *vt)
{
	double		now = unix_now();

	if (!(now < vt->exp + vt->leeway))
		refuse("JWT expired", NULL);
	if (vt->has_nbf && !(vt->nbf <= now + vt->leeway))
		refuse("JWT not yet valid", "Its \"nbf\" is in the future.");
	if (vt->has_iat && !(vt->iat <= now + vt->leeway))
		refuse("JWT issued in the future", "Its \"iat\" is in the future.");
}

/* Whether oauth_rls.jwt_denylist holds (kind, value) with a future expiry. */
static bool
denied(const char *kind, const char *value)
{
	Oid			relid = oauth_rls_relation_oid("jwt_denylist");
	Oid			indexid = oauth_rls_relation_oid("jwt_denylist_pkey");
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;
	TimestampTz now = GetCurrentTimestamp();

	/* Fail closed: the deny-list is part of the extension. */
	if (!OidIsValid(relid) || !OidIsValid(indexid))
		refuse("JWT revocation cannot be checked", "Table oauth_rls.jwt_denylist is missing.");
	rel = table_open(relid, AccessShareLock);
	snapshot = oauth_rls_register_read_snapshot();
	ScanKeyEntryInitialize(&key[0], 0, 1, BTEqualStrategyNumber, InvalidOid, C_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(kind));
	ScanKeyEntryInitialize(&key[1], 0, 2, BTEqualStrategyNumber, InvalidOid, C_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(value));
	scan = systable_beginscan(rel, indexid, true, snapshot, 2, key);
	while (!found && (tup = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		exp = heap_getattr(tup, 3, RelationGetDescr(rel), &isnull);

		found = isnull || DatumGetTimestampTz(exp) > now;
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Whether oauth_rls.jwt_denylist may hold a row.  Usually it is empty: that
 * is remembered until the table's trigger reports a change (any backend's
 * commit, or this transaction's own next command), sparing two index probes
 * per call.
 */
static bool
denylist_may_hold_rows(void)
{
	static uint64 generation = 0;
	static bool may_hold = true;
	uint64		now = oauth_rls_table_generation[OAUTH_TABLE_JWT_DENYLIST];
	Oid			relid;

	if (generation == now)
		return may_hold;
	relid = oauth_rls_relation_oid("jwt_denylist");
	may_hold = true;
	if (OidIsValid(relid))
	{
		Relation	rel = table_open(relid, AccessShareLock);
		Snapshot	snapshot = oauth_rls_register_read_snapshot();
		TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);

		may_hold = heap_getnext(scan, ForwardScanDirection) != NULL;
		table_endscan(scan);
		UnregisterSnapshot(snapshot);
		table_close(rel, AccessShareLock);
	}
	/* Trust it only if no change arrived while it was read. */
	generation = now == oauth_rls_table_generation[OAUTH_TABLE_JWT_DENYLIST] ? now : 0;
	return may_hold;
}

typedef struct SessionProbe
{
	const pg_uuid_t *user_id;
	bool		user_matches;
} SessionProbe;

/* auth.sessions row callback: the row's user_id equals the token's sub. */
static void
session_user_matches(HeapTuple tuple, Relation rel, void *arg)
{
	SessionProbe *probe = arg;
	pg_uuid_t	user;

	probe->user_matches = auth_uuid_column(tuple, rel, "user_id", &user) &&
		memcmp(user.data, probe->user_id->data, UUID_LEN) == 0;
}

static void
check_revocation(const VerifiedToken *vt)
{
	if (vt->check_session && vt->has_session)
	{
		SessionProbe probe = {&vt->user_id, false};

		if (!auth_sessions_exist())
			refuse("JWT session is not active",
				   "Its issuer requires a live session, and auth.sessions does not exist.");
		if (!auth_read_row("sessions", &vt->session_id, session_user_matches, &probe) ||
			!probe.user_matches)
			refuse("JWT session is not active",
				   "Its session was signed out or revoked (no row in auth.sessions for its user).");
	}
	if (!denylist_may_hold_rows())
		return;
	if (vt->jti && denied("jti", vt->jti))
		refuse("JWT has been revoked", "Its jti is in oauth_rls.jwt_denylist.");
	if (vt->session_text && denied("session_id", vt->session_text))
		refuse("JWT has been revoked", "Its session_id is in oauth_rls.jwt_denylist.");
}

/* ---------- setting the request ---------- */

static void
set_local(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
							 true, 0, false);
}

/*
 * Legacy per-claim settings, emptied so that no stale value mixes in.  The
 * module defines all five, so their values are read from its own variables
 * (a GetConfigOption() each was a fifth of a repeated call on 15).
 */
static const char *const legacy_settings[] = {
	"request.jwt.claim", "request.jwt.claim.sub", "request.jwt.claim.client_id",
	"request.jwt.claim.role", "request.jwt.claim.email"
};

static void
clear_legacy_settings(void)
{
	const char *values[lengthof(legacy_settings)];

	claims_legacy_values(&values[0], &values[1], &values[2]);
	token_only_legacy_values(&values[3], &values[4]);
	for (int i = 0; i < (int) lengthof(legacy_settings); i++)
		if (values[i] != NULL && values[i][0] != '\0')
			set_local(legacy_settings[i], "");
}

static void
apply_token(const VerifiedToken *vt)
{
	Oid			role = get_role_oid(vt->db_role, true);

	if (!OidIsValid(role) || !is_member_of_role(GetSessionUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("session user may not become role \"%s\", which the token's role maps to",
						vt->db_role),
				 errhint("Grant the role to the login role (oauth_rls.make_token_only_role() does), or fix the issuer's role_map.")));

	token_only_authenticating = true;
	PG_TRY();
	{
		set_local("role", vt->db_role);
		set_local("request.jwt.claims", vt->claims_text);
		clear_legacy_settings();
	}
	PG_FINALLY();
	{
		token_only_authenticating = false;
	}
	PG_END_TRY();
}

/*
 * authenticate(token text) -> jsonb: verifies the token and sets, for the
 * current transaction, request.jwt.claims and the role; returns the claims.
 */
PG_FUNCTION_INFO_V1(oauth_rls_authenticate);
Datum
oauth_rls_authenticate(PG_FUNCTION_ARGS)
{
	text	   *arg;
	const char *token;
	int			len;
	uint64		hash;
	VerifiedToken *vt;
	VerifiedToken fresh = {0};

	if (PG_ARGISNULL(0))
		refuse("JWT is malformed", "The token is NULL.");
	arg = PG_GETARG_TEXT_PP(0);
	token = VARDATA_ANY(arg);
	len = VARSIZE_ANY_EXHDR(arg);
	if (len > JWS_MAX_TOKEN_LEN)
		refuse("JWT is malformed", psprintf("The token is longer than %d bytes.", JWS_MAX_TOKEN_LEN));

	oauth_rls_accept_invalidations();
	token_only_require_preloaded();
	vt = token_cache_lookup(token, len, &hash);
	if (vt == NULL)
	{
		fresh.hash = hash;
		fresh.token = (char *) token;
		fresh.token_len = len;
		verify_token(token, len, &fresh);
		vt = &fresh;
	}
	check_times(vt);
	check_revocation(vt);
	apply_token(vt);
	if (vt == &fresh)
		token_cache_store(&fresh);
	PG_RETURN_JSONB_P((Jsonb *) DatumGetPointer(datumCopy(JsonbPGetDatum(vt->claims), false, -1)));
}
