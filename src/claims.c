/*
 * claims.c
 *      Reading the request's JWT claims: claims(), claim(), user_id(),
 *      client_id(), session_id(), scopes(), has_scope().  (client_id() also
 *      consults auth.sessions: see auth_session.c.)
 *
 * PostgREST stores the verified JWT payload in the transaction-local setting
 * request.jwt.claims.  The module defines that setting (and the legacy
 * request.jwt.claim* ones) itself, so that its assign hook tells us about
 * every change: SET, set_config(), RESET, and the restore at transaction or
 * savepoint end.  The cached parse is keyed on that change counter plus the
 * text, so a pooled backend that serves another user in its next transaction
 * always re-reads, while repeated calls with unchanged claims cost one integer
 * comparison and no allocation.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/uuid.h"
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif

#include "auth_session.h"
#include "claims.h"
#include "claims_parse.h"
#include "token_only.h"

uint64		oauth_rls_request_generation = 1;

/* The settings as GUC variables: read directly, never looked up by name. */
static char *setting_claim = NULL;	/* request.jwt.claim (whole JSON, legacy) */
static char *setting_claims = NULL; /* request.jwt.claims */
static char *setting_claim_sub = NULL;	/* request.jwt.claim.sub (legacy) */
static char *setting_claim_client_id = NULL;	/* request.jwt.claim.client_id */
static char *setting_headers = NULL;	/* request.headers */

typedef enum ClaimsProblem
{
	CLAIMS_OK = 0,
	CLAIMS_NOT_JSON,
	CLAIMS_NOT_OBJECT,
	CLAIM_NOT_UUID,
	CLAIM_WRONG_TYPE,
	CLAIM_EMPTY,
	CLAIMS_CONFLICT				/* two settings that both carry a value disagree */
} ClaimsProblem;

/* Why the settings, or one claim of them, are unusable. */
typedef struct ClaimsFault
{
	ClaimsProblem problem;
	const char *setting;
	const char *claim;
	const char *expected;
} ClaimsFault;

/*
 * Which readers raise a fault.  A malformed sub or session_id is raised only
 * by the functions that return that claim (user_id(), session_id()): tiers,
 * allows() and guards do not depend on them, and third-party auth providers
 * (Clerk, Auth0, Firebase, WorkOS) issue a sub that is not a uuid.  Any other
 * fault is raised by every reader.
 */
typedef enum FaultScope
{
	FAULT_ALL = 0,
	FAULT_USER,
	FAULT_SESSION,
	FAULT_SCOPE_COUNT
} FaultScope;

typedef struct ClaimsCache
{
	uint64		generation;		/* request generation last validated */
	MemoryContext cxt;			/* holds everything below; reset on reparse */
	/* the setting texts this parse was made from */
	char	   *src_claim;
	char	   *src_claims;
	char	   *src_sub;
	char	   *src_client_id;
	ClaimsFault faults[FAULT_SCOPE_COUNT];
	RequestClaims claims;
} ClaimsCache;

static ClaimsCache cache = {0};

static void
assign_request_setting(const char *newval, void *extra)
{
	oauth_rls_request_changed();
}

/*
 * check: token_only_check_claim_setting for the claim settings, which a
 * token-only session gets only from authenticate() (token_only.c).
 */
static void
define_request_setting(const char *name, const char *desc, char **var,
					   GucStringCheckHook check)
{
	DefineCustomStringVariable(name, desc, NULL, var, "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							   check, assign_request_setting, NULL);
}

void
claims_init(void)
{
	define_request_setting("request.jwt.claims",
						   "JWT claims of the current request, as JSON (set by PostgREST).",
						   &setting_claims, token_only_check_claim_setting);
	define_request_setting("request.jwt.claim",
						   "Legacy whole-claims setting; read before request.jwt.claims.",
						   &setting_claim, token_only_check_claim_setting);
	define_request_setting("request.jwt.claim.sub",
						   "Legacy per-claim setting for sub; read before the claims' sub.",
						   &setting_claim_sub, token_only_check_claim_setting);
	define_request_setting("request.jwt.claim.client_id",
						   "Legacy per-claim setting for client_id.",
						   &setting_claim_client_id, token_only_check_claim_setting);
	define_request_setting("request.headers",
						   "Request headers as a JSON object (set by PostgREST).",
						   &setting_headers, NULL);
	cache.cxt = AllocSetContextCreate(TopMemoryContext, "oauth_rls claims",
									  ALLOCSET_SMALL_SIZES);
}

/* '' and unset both mean "not set". */
static inline bool
is_set(const char *value)
{
	return value != NULL && value[0] != '\0';
}

static bool
same_text(const char *cached, const char *current)
{
	if (!is_set(cached) || !is_set(current))
		return is_set(cached) == is_set(current);
	return strcmp(cached, current) == 0;
}

static char *
copy_setting(const char *value)
{
	return is_set(value) ? pstrdup(value) : NULL;
}

/*
 * Parses claims text into jsonb, or returns NULL when it is not valid JSON.
 * The input function's own error would quote the text, and the claims must
 * never be echoed, so the error is replaced by ours.
 */
static Jsonb *
parse_json(const char *text)
{
#if PG_VERSION_NUM >= 160000
	/* designated, so -Wextra does not ask for the other fields (all zero) */
	ErrorSaveContext escontext = {.type = T_ErrorSaveContext};
	Datum		result;

	if (!DirectInputFunctionCallSafe(jsonb_in, (char *) text, InvalidOid, -1,
									 (Node *) &escontext, &result))
		return NULL;
	return DatumGetJsonbP(result);
#else
	MemoryContext oldcxt = CurrentMemoryContext;
	Jsonb	   *volatile result = NULL;

	/*
	 * jsonb_in only allocates memory and holds no locks or buffers, so a data
	 * error it raises can be caught without a subtransaction.  Anything else
	 * (cancel, out of memory, stack depth) is re-thrown untouched.
	 */
	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		result = NULL;
	}
	PG_END_TRY();
	return result;
#endif
}

static void
set_fault(FaultScope scope, ClaimsProblem problem, const char *setting,
		  const char *claim, const char *expected)
{
	ClaimsFault *f = &cache.faults[scope];

	f->problem = problem;
	f->setting = setting;
	f->claim = claim;
	f->expected = expected;
}

static void
set_problem(ClaimsProblem problem, const char *setting, const char *claim,
			const char *expected)
{
	set_fault(FAULT_ALL, problem, setting, claim, expected);
}

/* Looks a top-level key up; NULL when absent. */
static JsonbValue *
find_claim(Jsonb *claims, const char *key, JsonbValue *buf)
{
	return getKeyJsonValueFromContainer(&claims->root, key, strlen(key), buf);
}

/*
 * A uuid claim: absent or JSON null means "none"; any other non-uuid value is
 * a fault of that claim (scope), raised by the function that returns it,
 * and "none" for every other reader.
 */
static bool
read_uuid_claim(Jsonb *claims, const char *key, const char *setting,
				FaultScope scope, bool *has, pg_uuid_t *out)
{
	JsonbValue	buf;
	JsonbValue *v = find_claim(claims, key, &buf);

	*has = false;
	if (v == NULL || v->type == jbvNull)
		return true;
	if (v->type != jbvString)
	{
		set_fault(scope, CLAIM_WRONG_TYPE, setting, key, "a string holding a uuid");
		return false;
	}
	if (!claims_parse_uuid(v->val.string.val, v->val.string.len, out->data))
	{
		set_fault(scope, CLAIM_NOT_UUID, setting, key, "a uuid");
		return false;
	}
	*has = true;
	return true;
}

/*
 * The user: the claims' sub, or the legacy per-claim setting while they
 * agree.  Any fault is the user's (FAULT_USER), and leaves has_user false.
 */
static void
parse_user(Jsonb *claims, const char *setting, RequestClaims *rc)
{
	bool		has_claim_sub = false;
	pg_uuid_t	claim_sub;

	if (claims &&
		!read_uuid_claim(claims, "sub", setting, FAULT_USER, &has_claim_sub, &claim_sub))
		return;
	if (is_set(setting_claim_sub))
	{
		if (!claims_parse_uuid(setting_claim_sub, strlen(setting_claim_sub), rc->user_id.data))
			return set_fault(FAULT_USER, CLAIM_NOT_UUID, "request.jwt.claim.sub", NULL, "a uuid");
		if (claims && (!has_claim_sub || memcmp(&claim_sub, &rc->user_id, UUID_LEN) != 0))
			return set_fault(FAULT_USER, CLAIMS_CONFLICT, "request.jwt.claim.sub", setting, NULL);
		rc->has_user = true;
	}
	else if (has_claim_sub)
	{
		rc->user_id = claim_sub;
		rc->has_user = true;
	}
}

static void
split_scopes(const char *scope, int len, RequestClaims *rc)
{
	int			n = 0;
	int			pos = 0;
	int			start;
	int			toklen;

	/* tokens are separated by at least one space: at most len / 2 + 1 */
	rc->scopes = palloc(sizeof(char *) * (len / 2 + 1));
	while ((toklen = claims_next_scope(scope, len, &pos, &start)) > 0)
		rc->scopes[n++] = pnstrdup(scope + start, toklen);
	rc->nscopes = n;
}

/* Parses one whole-claims setting; false (problem set) when it is unusable. */
static bool
parse_claims_setting(const char *setting, const char *text, Jsonb **out)
{
	*out = NULL;
	if (!is_set(text))
		return true;
	*out = parse_json(text);
	if (*out == NULL)
	{
		set_problem(CLAIMS_NOT_JSON, setting, NULL, NULL);
		return false;
	}
	if (!JB_ROOT_IS_OBJECT(*out))
	{
		set_problem(CLAIMS_NOT_OBJECT, setting, NULL, NULL);
		return false;
	}
	return true;
}

/*
 * Parses the current settings into cache.claims (in cache.cxt).
 *
 * The legacy settings (request.jwt.claim, request.jwt.claim.sub,
 * request.jwt.claim.client_id) are honoured as Supabase's helpers honour
 * them, but only while they agree with request.jwt.claims, the one PostgREST
 * sets.  A legacy value left at session level on a pooled backend must not
 * override the next user's token: when both carry a value and disagree,
 * every reader raises.
 */
static void
parse_settings(void)
{
	RequestClaims *rc = &cache.claims;
	const char *setting = "request.jwt.claims";
	Jsonb	   *legacy_claims;
	Jsonb	   *claims;
	char	   *claim_client_id = NULL;
	JsonbValue	buf;
	JsonbValue *v;

	memset(rc, 0, sizeof(*rc));
	memset(cache.faults, 0, sizeof(cache.faults));

	if (!parse_claims_setting("request.jwt.claims", setting_claims, &claims) ||
		!parse_claims_setting("request.jwt.claim", setting_claim, &legacy_claims))
		return;
	if (legacy_claims != NULL)
	{
		if (claims != NULL && compareJsonbContainers(&legacy_claims->root, &claims->root) != 0)
			return set_problem(CLAIMS_CONFLICT, "request.jwt.claim", "request.jwt.claims", NULL);
		claims = legacy_claims;
		setting = "request.jwt.claim";
	}
	rc->claims = claims;

	parse_user(claims, setting, rc);
	if (claims)
		(void) read_uuid_claim(claims, "session_id", setting, FAULT_SESSION,
							   &rc->has_session, &rc->session_id);

	/*
	 * client_id: a NULL answer means "direct session", the most trusted case,
	 * so a present but null, empty or non-string claim is an error.
	 */
	if (claims && (v = find_claim(claims, "client_id", &buf)) != NULL)
	{
		if (v->type != jbvString)
			return set_problem(CLAIM_WRONG_TYPE, setting, "client_id", "a non-empty string");
		if (v->val.string.len == 0)
			return set_problem(CLAIM_EMPTY, setting, "client_id", "a non-empty string");
		claim_client_id = pnstrdup(v->val.string.val, v->val.string.len);
		/* A uuid in any case is that client: the registry holds lower case. */
		(void) claims_lower_uuid(claim_client_id, v->val.string.len);
	}
	if (is_set(setting_claim_client_id))
	{
		char	   *setting_client_id = pstrdup(setting_claim_client_id);

		(void) claims_lower_uuid(setting_client_id, strlen(setting_client_id));
		if (claims && (claim_client_id == NULL ||
					   strcmp(claim_client_id, setting_client_id) != 0))
			return set_problem(CLAIMS_CONFLICT, "request.jwt.claim.client_id", setting, NULL);
		rc->client_id = setting_client_id;
	}
	else
		rc->client_id = claim_client_id;

	if (claims && (v = find_claim(claims, "scope", &buf)) != NULL &&
		v->type != jbvNull)
	{
		if (v->type != jbvString)
			return set_problem(CLAIM_WRONG_TYPE, setting, "scope", "a space-separated string");
		split_scopes(v->val.string.val, v->val.string.len, rc);
		rc->has_scope_claim = true;
	}
}

static void
raise_fault(const ClaimsFault *f)
{
	switch (f->problem)
	{
		case CLAIMS_OK:
			break;
		case CLAIMS_NOT_JSON:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("setting \"%s\" is not valid JSON", f->setting),
					 errdetail("The value is not shown, because it may hold credentials."),
					 errhint("PostgREST sets it to the verified JWT payload; check what your test or pre-request function stores there.")));
			break;
		case CLAIMS_NOT_OBJECT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("setting \"%s\" is not a JSON object", f->setting),
					 errdetail("JWT claims must be a JSON object; the value is not shown.")));
			break;
		case CLAIM_NOT_UUID:
			if (f->claim)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("claim \"%s\" in setting \"%s\" is not a uuid",
								f->claim, f->setting),
						 errdetail("Supabase writes it as a canonical uuid; the value is not shown.")));
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("setting \"%s\" is not a uuid", f->setting),
					 errdetail("The value is not shown.")));
			break;
		case CLAIMS_CONFLICT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("settings \"%s\" and \"%s\" disagree",
							f->setting, f->claim),
					 errdetail("Both are set and say different things; the values are not shown."),
					 errhint("Set only request.jwt.claims, as PostgREST does.  A legacy setting set with SET (not SET LOCAL) outlives the transaction on a pooled connection.")));
			break;
		case CLAIM_WRONG_TYPE:
		case CLAIM_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("claim \"%s\" in setting \"%s\" must be %s",
							f->claim, f->setting, f->expected),
					 errdetail("The value is not shown.")));
			break;
	}
}

const RequestClaims *
claims_current(void)
{
	if (cache.generation != oauth_rls_request_generation)
	{
		/* A change was made; unless the texts are identical, parse again. */
		if (cache.generation == 0 ||
			!same_text(cache.src_claim, setting_claim) ||
			!same_text(cache.src_claims, setting_claims) ||
			!same_text(cache.src_sub, setting_claim_sub) ||
			!same_text(cache.src_client_id, setting_claim_client_id))
		{
			MemoryContext oldcxt;

			/* Mark invalid first: an error while parsing leaves no half state. */
			cache.generation = 0;
			MemoryContextReset(cache.cxt);
			oldcxt = MemoryContextSwitchTo(cache.cxt);
			cache.src_claim = copy_setting(setting_claim);
			cache.src_claims = copy_setting(setting_claims);
			cache.src_sub = copy_setting(setting_claim_sub);
			cache.src_client_id = copy_setting(setting_claim_client_id);
			parse_settings();
			MemoryContextSwitchTo(oldcxt);
		}
		cache.generation = oauth_rls_request_generation;
	}
	if (cache.faults[FAULT_ALL].problem != CLAIMS_OK)
		raise_fault(&cache.faults[FAULT_ALL]);
	return &cache.claims;
}

/* The current claims, raising a fault of sub (and of every claim) first. */
static const RequestClaims *
claims_current_user(void)
{
	const RequestClaims *rc = claims_current();

	if (cache.faults[FAULT_USER].problem != CLAIMS_OK)
		raise_fault(&cache.faults[FAULT_USER]);
	return rc;
}

/* The same for session_id. */
static const RequestClaims *
claims_current_session(void)
{
	const RequestClaims *rc = claims_current();

	if (cache.faults[FAULT_SESSION].problem != CLAIMS_OK)
		raise_fault(&cache.faults[FAULT_SESSION]);
	return rc;
}

void
claims_legacy_values(const char **claim, const char **sub, const char **client_id)
{
	*claim = setting_claim;
	*sub = setting_claim_sub;
	*client_id = setting_claim_client_id;
}

Jsonb *
claims_parse_json(const char *text)
{
	return parse_json(text);
}

const char *
claims_request_headers(void)
{
	return is_set(setting_headers) ? setting_headers : NULL;
}

/*
 * Per call site result cache in fn_extra: a by-reference result is copied
 * once per change of the request settings, then returned as is.  Copies
 * alternate between two small contexts under fn_mcxt: the previous answer
 * stays valid while the current one is made (rows still pointing at it keep
 * their value), and a loop that switches users inside one transaction (where
 * fn_mcxt lives as long as the transaction) uses bounded memory.
 */
typedef struct CallSiteResult
{
	uint64		generation;
	bool		isnull;
	Datum		value;
	text	   *arg;			/* claim(): the name the result is for */
	bool		per_statement;	/* client_id(): read from auth.sessions */
	StatementKey statement;
	MemoryContext copies[2];
	int			current;		/* which of copies holds value */
} CallSiteResult;

static CallSiteResult *
call_site(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
														  sizeof(CallSiteResult));
	return (CallSiteResult *) fcinfo->flinfo->fn_extra;
}

static inline bool
call_site_fresh(CallSiteResult *site)
{
	return site->generation == oauth_rls_request_generation;
}

/*
 * The call site when its result is fresh, else NULL.  The functions called
 * per row test this first and compute out of line (pg_noinline), so that the
 * per-row path sets up no frame for the computation.
 */
static inline CallSiteResult *
fresh_call_site(FunctionCallInfo fcinfo)
{
	CallSiteResult *site = (CallSiteResult *) fcinfo->flinfo->fn_extra;

	return site != NULL && call_site_fresh(site) ? site : NULL;
}

static Datum
call_site_store(FunctionCallInfo fcinfo, CallSiteResult *site, Datum value,
				bool isnull, bool byval, int typlen)
{
	site->isnull = isnull;
	if (isnull)
		site->value = (Datum) 0;
	else
	{
		int			next = 1 - site->current;
		MemoryContext oldcxt;

		if (site->copies[next] == NULL)
			site->copies[next] = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
													   "oauth_rls call site",
													   ALLOCSET_SMALL_SIZES);
		else
			MemoryContextReset(site->copies[next]);
		oldcxt = MemoryContextSwitchTo(site->copies[next]);
		site->value = datumCopy(value, byval, typlen);
		MemoryContextSwitchTo(oldcxt);
		site->current = next;
	}
	site->generation = oauth_rls_request_generation;
	fcinfo->isnull = site->isnull;
	return site->value;
}

#define RETURN_CALL_SITE(site) \
	do { \
		if ((site)->isnull) \
			PG_RETURN_NULL(); \
		return (site)->value; \
	} while (0)

static Datum
uuid_result(FunctionCallInfo fcinfo, bool has, const pg_uuid_t *value)
{
	CallSiteResult *site = call_site(fcinfo);

	return call_site_store(fcinfo, site, UUIDPGetDatum(value), !has, false, UUID_LEN);
}

static pg_noinline Datum
claims_compute(FunctionCallInfo fcinfo)
{
	CallSiteResult *site = call_site(fcinfo);
	const RequestClaims *rc = claims_current();

	return call_site_store(fcinfo, site, PointerGetDatum(rc->claims),
						   rc->claims == NULL, false, -1);
}

/* claims() -> jsonb: the request's claims, NULL when there are none. */
PG_FUNCTION_INFO_V1(oauth_rls_claims);
Datum
oauth_rls_claims(PG_FUNCTION_ARGS)
{
	CallSiteResult *site = fresh_call_site(fcinfo);

	if (likely(site != NULL))
		RETURN_CALL_SITE(site);
	return claims_compute(fcinfo);
}

/* A top-level claim as text, with the meaning of ->>. */
static text *
claim_as_text(const RequestClaims *rc, text *name)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (rc->claims == NULL)
		return NULL;
	v = getKeyJsonValueFromContainer(&rc->claims->root, VARDATA_ANY(name),
									 VARSIZE_ANY_EXHDR(name), &buf);
	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return cstring_to_text(DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
		case jbvBool:
			return cstring_to_text(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return cstring_to_text(JsonbToCString(NULL, v->val.binary.data,
												  v->val.binary.len));
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return NULL;
}

/* claim(name) -> text: one top-level claim, NULL when absent or null. */
PG_FUNCTION_INFO_V1(oauth_rls_claim);
Datum
oauth_rls_claim(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	CallSiteResult *site = call_site(fcinfo);
	text	   *result;

	if (call_site_fresh(site) && site->arg != NULL &&
		VARSIZE_ANY_EXHDR(site->arg) == VARSIZE_ANY_EXHDR(name) &&
		memcmp(VARDATA_ANY(site->arg), VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0)
		RETURN_CALL_SITE(site);

	result = claim_as_text(claims_current(), name);

	/*
	 * Cache only the first name seen here: a call like claim(col) with a
	 * different name per row returns a per-row result and keeps nothing.
	 */
	if (site->arg == NULL)
	{
		site->arg = (text *) MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE_ANY(name));
		memcpy(site->arg, name, VARSIZE_ANY(name));
	}
	else if (!(VARSIZE_ANY_EXHDR(site->arg) == VARSIZE_ANY_EXHDR(name) &&
			   memcmp(VARDATA_ANY(site->arg), VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0))
	{
		if (result == NULL)
			PG_RETURN_NULL();
		PG_RETURN_TEXT_P(result);
	}
	return call_site_store(fcinfo, site, PointerGetDatum(result), result == NULL, false, -1);
}

static pg_noinline Datum
user_id_compute(FunctionCallInfo fcinfo)
{
	const RequestClaims *rc = claims_current_user();

	return uuid_result(fcinfo, rc->has_user, &rc->user_id);
}

/* user_id() -> uuid: like auth.uid(), but fails on a malformed sub. */
PG_FUNCTION_INFO_V1(oauth_rls_user_id);
Datum
oauth_rls_user_id(PG_FUNCTION_ARGS)
{
	CallSiteResult *site = fresh_call_site(fcinfo);

	if (likely(site != NULL))
		RETURN_CALL_SITE(site);
	return user_id_compute(fcinfo);
}

static pg_noinline Datum
session_id_compute(FunctionCallInfo fcinfo)
{
	const RequestClaims *rc = claims_current_session();

	return uuid_result(fcinfo, rc->has_session, &rc->session_id);
}

/* session_id() -> uuid: the auth.sessions row the token belongs to. */
PG_FUNCTION_INFO_V1(oauth_rls_session_id);
Datum
oauth_rls_session_id(PG_FUNCTION_ARGS)
{
	CallSiteResult *site = fresh_call_site(fcinfo);

	if (likely(site != NULL))
		RETURN_CALL_SITE(site);
	return session_id_compute(fcinfo);
}

static pg_noinline Datum
client_id_compute(FunctionCallInfo fcinfo)
{
	CallSiteResult *site = call_site(fcinfo);
	const char *client;
	bool		per_statement;
	StatementKey now = statement_key_now();
	Datum		result;

	(void) auth_request_client(&client, &per_statement);
	result = call_site_store(fcinfo, site,
							 client ? PointerGetDatum(cstring_to_text(client)) : (Datum) 0,
							 client == NULL, false, -1);
	site->per_statement = per_statement;
	site->statement = now;
	return result;
}

/*
 * client_id() -> text: the OAuth client the request acts as, NULL for a
 * direct session: the client_id claim, else the OAuth client of the token's
 * auth.sessions row (a token Auth re-issued without client_id is still that
 * client's; see auth_session.c).  An answer read from auth.sessions holds for
 * the command only.
 */
PG_FUNCTION_INFO_V1(oauth_rls_client_id);
Datum
oauth_rls_client_id(PG_FUNCTION_ARGS)
{
	CallSiteResult *site = fresh_call_site(fcinfo);

	if (likely(site != NULL) &&
		(!site->per_statement || statement_key_holds(&site->statement)))
		RETURN_CALL_SITE(site);
	return client_id_compute(fcinfo);
}

/* scopes() -> text[]: the granted scopes, '{}' when there are none. */
PG_FUNCTION_INFO_V1(oauth_rls_scopes);
Datum
oauth_rls_scopes(PG_FUNCTION_ARGS)
{
	CallSiteResult *site = call_site(fcinfo);
	const RequestClaims *rc;
	Datum	   *elems;
	ArrayType  *result;

	if (call_site_fresh(site))
		RETURN_CALL_SITE(site);
	rc = claims_current();
	elems = palloc(sizeof(Datum) * (rc->nscopes + 1));
	for (int i = 0; i < rc->nscopes; i++)
		elems[i] = PointerGetDatum(cstring_to_text(rc->scopes[i]));
	result = construct_array(elems, rc->nscopes, TEXTOID, -1, false, TYPALIGN_INT);
	return call_site_store(fcinfo, site, PointerGetDatum(result), false, false, -1);
}

/* has_scope(text) -> boolean: whether the token was granted that scope. */
PG_FUNCTION_INFO_V1(oauth_rls_has_scope);
Datum
oauth_rls_has_scope(PG_FUNCTION_ARGS)
{
	text	   *wanted = PG_GETARG_TEXT_PP(0);
	const RequestClaims *rc = claims_current();
	int			len = VARSIZE_ANY_EXHDR(wanted);

	for (int i = 0; i < rc->nscopes; i++)
		if (strlen(rc->scopes[i]) == (size_t) len &&
			memcmp(rc->scopes[i], VARDATA_ANY(wanted), len) == 0)
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}
