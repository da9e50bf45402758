/*
 * hook.c
 *      oauth_rls.custom_access_token_hook(event jsonb) -> jsonb: Supabase
 *      Auth's Custom Access Token Hook, in C.
 *
 * Auth calls the hook for every token it issues, inside the issuing
 * transaction, as supabase_auth_admin with a 2 s statement timeout.  A raised
 * error, a timeout or a NULL result fails the sign-in with HTTP 500, so the
 * hook never raises and never returns NULL: a bad event gets an error object
 * ({"error": {"http_code", "message"}}), and an unexpected error (a broken
 * chained hook, a missing table) is caught in a subtransaction and turned into
 * one.  Its success output ({"claims": ...}) always satisfies Auth's claims
 * schema, because the event's claims are checked against that schema first and
 * every change made here keeps each claim's type.
 *
 * Per call: check the event, look up the client's tier (registry.c) and
 * settings (cached per backend, dropped when oauth_rls.clients changes), run
 * the chained user hook if one is set, build the claims once with the jsonb
 * push API, then count the issuance in a second subtransaction, never
 * waiting for a lock, so that a failure to count never fails the sign-in.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "auth_session.h"
#include "claims_parse.h"
#include "counters.h"
#include "hook.h"
#include "invalidation.h"
#include "registry.h"

/* Settings (see hook_init). */
static bool minimize_third_party_claims = true;
static bool record_issuance = true;
static char *chained_hook = NULL;

/*
 * Claims a client's extra_claims can never set or overwrite (the CHECK
 * constraint clients_extra_claims_check lists the same names), and that
 * strip_claims can never remove (clients_strip_claims_check).
 */
static const char *const protected_claims[] = {
	"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "role", "aal", "amr",
	"session_id", "is_anonymous", "client_id", "scope", "client_tier", NULL
};

/*
 * Claims copied from Auth's event, whatever a chained hook returned: they say
 * who the user and session are, how strongly the user signed in and what was
 * granted.  A hook that changed them would change what RLS allows.  Two of
 * them a chained hook may change (chain_choice()): exp, to a shorter
 * lifetime only, and role.
 */
static const char *const event_claims[] = {
	"sub", "role", "session_id", "client_id", "exp", "iat", "scope", "aal",
	"amr", "is_anonymous", NULL
};

/* The event claims a chained hook may change (see above). */
static const char *const chain_may_set[] = {"exp", "role", NULL};

/* Auth's claims schema, plus scope (read here as a string). */
typedef enum ClaimType
{
	CT_STRING,
	CT_INTEGER,
	CT_BOOLEAN,
	CT_OBJECT,
	CT_AUD,						/* a string or an array of strings */
	CT_AMR						/* an array of strings or objects */
} ClaimType;

static const char *const claim_type_names[] = {
	"a string", "an integer", "a boolean", "an object",
	"a string or an array of strings", "an array of strings or objects"
};

typedef struct ClaimRule
{
	const char *name;
	bool		required;
	ClaimType	type;
} ClaimRule;

static const ClaimRule claim_rules[] = {
	{"aud", true, CT_AUD},
	{"exp", true, CT_INTEGER},
	{"iat", true, CT_INTEGER},
	{"sub", true, CT_STRING},
	{"email", true, CT_STRING},
	{"phone", true, CT_STRING},
	{"role", true, CT_STRING},
	{"aal", true, CT_STRING},
	{"session_id", true, CT_STRING},
	{"is_anonymous", true, CT_BOOLEAN},
	{"nbf", false, CT_INTEGER},
	{"iss", false, CT_STRING},
	{"jti", false, CT_STRING},
	{"client_id", false, CT_STRING},
	{"scope", false, CT_STRING},
	{"app_metadata", false, CT_OBJECT},
	{"user_metadata", false, CT_OBJECT},
	{"amr", false, CT_AMR},
};

/* Scopes that decide which personal claims a third-party client keeps. */
#define SCOPE_EMAIL		0x01
#define SCOPE_PHONE		0x02
#define SCOPE_PROFILE	0x04

/* A client's token settings: the per-client columns of oauth_rls.clients. */
typedef struct ClientSettings
{
	char		client_id[CLIENT_ID_MAXLEN + 1];	/* hash key */
	char	   *audience;		/* replaces aud; NULL keeps it */
	Jsonb	   *extra;			/* merged in; NULL when empty */
	int			nstrip;
	char	  **strip;			/* removed, or blanked when Auth requires it */
} ClientSettings;

#define SETTINGS_CACHE_MAX_ENTRIES 10000

static TableCache settings_cache =
	TABLE_CACHE("oauth_rls hook client settings", OAUTH_TABLE_CLIENTS, CLIENT_ID_MAXLEN + 1,
				ClientSettings, true);

/* What one call decided, and what to count. */
typedef struct HookOutcome
{
	Jsonb	   *output;
	bool		count;			/* a token was issued, or refused as blocked */
	const char *client;			/* client_id, or "direct" */
	OAuthTier	tier;
	const char *method;
} HookOutcome;

/* The OAuth client of the event's auth.sessions row. */
typedef struct SessionClient
{
	bool		found;
	pg_uuid_t	client;
	char		text[UUID_TEXT_LEN + 1];
} SessionClient;

/* Where an unexpected error happened: it decides the error object's message. */
typedef enum HookStage
{
	STAGE_PROCESS,
	STAGE_CHAIN_RESOLVE,
	STAGE_CHAIN_CALL
} HookStage;

void
hook_init(void)
{
	/*
	 * PGC_SUSET: changing any of these weakens a protection, so only
	 * superusers and roles granted SET on them (the extension's owner,
	 * sql/install/80_settings.sql) may, never the API roles.
	 */
	DefineCustomBoolVariable("oauth_rls.minimize_third_party_claims",
							 "Blank personal claims of third-party tokens that lack the matching scope.",
							 "Without scope email, email becomes \"\"; without phone, phone becomes \"\"; "
							 "without profile, user_metadata becomes {}.",
							 &minimize_third_party_claims, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("oauth_rls.chained_hook",
							   "Hook function that oauth_rls.custom_access_token_hook runs first.",
							   "A function signature such as public.my_hook(jsonb), returning jsonb; "
							   "empty for none.",
							   &chained_hook, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("oauth_rls.record_issuance",
							 "Count every token the hook issues in oauth_rls.token_issuance.",
							 NULL,
							 &record_issuance, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

/* jsonb helpers */

static inline bool
key_is(const JsonbValue *key, const char *name)
{
	size_t		len = strlen(name);

	return (size_t) key->val.string.len == len &&
		memcmp(key->val.string.val, name, len) == 0;
}

static bool
key_in(const JsonbValue *key, const char *const *names)
{
	for (; *names != NULL; names++)
		if (key_is(key, *names))
			return true;
	return false;
}

static JsonbValue *
find_key(JsonbContainer *object, const char *name, JsonbValue *buf)
{
	return getKeyJsonValueFromContainer(object, name, strlen(name), buf);
}

static inline bool
is_object(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static inline bool
is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

static void
push_key(JsonbParseState **state, const char *name)
{
	JsonbValue	key;

	key.type = jbvString;
	key.val.string.val = (char *) name;
	key.val.string.len = strlen(name);
	pushJsonbValue(state, WJB_KEY, &key);
}

static void
push_string(JsonbParseState **state, const char *value)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(state, WJB_VALUE, &v);
}

static void
push_empty_object(JsonbParseState **state)
{
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* {"error": {"http_code": code, "message": message}}, as Auth expects. */
static Jsonb *
error_object(int http_code, const char *message)
{
	JsonbParseState *state = NULL;
	JsonbValue	code;
	JsonbValue *result;

	code.type = jbvNumeric;
	code.val.numeric = int64_to_numeric(http_code);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "error");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "http_code");
	pushJsonbValue(&state, WJB_VALUE, &code);
	push_key(&state, "message");
	push_string(&state, message);
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(result);
}

/* Checking claims against Auth's schema */

/*
 * An integer written without a fraction.  Auth always writes exp and iat so;
 * 1.0 is refused rather than relying on every JWT consumer to accept it.
 */
static bool
numeric_is_whole(Numeric n)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));

	return strchr(text, '.') == NULL;
}

/* Whether every element of an array is one of the allowed kinds. */
static bool
array_elements_are(JsonbContainer *array, bool strings, bool objects)
{
	JsonbIterator *it = JsonbIteratorInit(array);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (!((strings && v.type == jbvString) || (objects && is_object(&v))))
			return false;
	}
	return true;
}

static bool
value_has_type(const JsonbValue *v, ClaimType type)
{
	switch (type)
	{
		case CT_STRING:
			return v->type == jbvString;
		case CT_INTEGER:
			return v->type == jbvNumeric && numeric_is_whole(v->val.numeric);
		case CT_BOOLEAN:
			return v->type == jbvBool;
		case CT_OBJECT:
			return is_object(v);
		case CT_AUD:
			return v->type == jbvString ||
				(is_array(v) && array_elements_are(v->val.binary.data, true, false));
		case CT_AMR:
			return is_array(v) && array_elements_are(v->val.binary.data, true, true);
	}
	return false;
}

static const ClaimRule *
claim_rule(const JsonbValue *key)
{
	for (size_t i = 0; i < lengthof(claim_rules); i++)
		if (key_is(key, claim_rules[i].name))
			return &claim_rules[i];
	return NULL;
}

static bool
name_in(const char *name, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcmp(*names, name) == 0)
			return true;
	return false;
}

/*
 * Checks a claims object against Auth's schema.  Returns NULL when it
 * conforms, else what is wrong (naming the claim, never its value).  With
 * chained (a chained hook's claims), the claims copied from Auth's event are
 * not checked, but for those it may set, which may be missing (Auth's are
 * kept then) and must have their type when present.
 */
static char *
claims_problem(JsonbContainer *claims, bool chained)
{
	for (size_t i = 0; i < lengthof(claim_rules); i++)
	{
		const ClaimRule *rule = &claim_rules[i];
		JsonbValue	buf;
		JsonbValue *v;
		bool		optional = false;

		if (chained && name_in(rule->name, event_claims))
		{
			if (!name_in(rule->name, chain_may_set))
				continue;
			optional = true;
		}

		v = find_key(claims, rule->name, &buf);
		if (v == NULL)
		{
			if (rule->required && !optional)
				return psprintf("claim \"%s\" is missing", rule->name);
			continue;
		}
		if (!value_has_type(v, rule->type))
			return psprintf("claim \"%s\" must be %s", rule->name,
							claim_type_names[rule->type]);
	}
	return NULL;
}

/*
 * Checks the event's top level, returning its claims and the authentication
 * method; NULL when it is fine, else what is wrong.
 */
static char *
event_problem(Jsonb *event, JsonbContainer **claims, const char **method)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (!JB_ROOT_IS_OBJECT(event))
		return "the event must be a JSON object";

	v = find_key(&event->root, "claims", &buf);
	if (v == NULL)
		return "\"claims\" is missing";
	if (!is_object(v))
		return "\"claims\" must be a JSON object";
	*claims = v->val.binary.data;

	v = find_key(&event->root, "user_id", &buf);
	if (v != NULL && v->type != jbvString)
		return "\"user_id\" must be a string";
	v = find_key(&event->root, "metadata", &buf);
	if (v != NULL && !is_object(v))
		return "\"metadata\" must be a JSON object";

	*method = "unknown";
	v = find_key(&event->root, "authentication_method", &buf);
	if (v != NULL)
	{
		int			len;

		if (v->type != jbvString)
			return "\"authentication_method\" must be a string";
		len = pg_mbcliplen(v->val.string.val, v->val.string.len, HOOK_METHOD_MAXLEN);
		if (len > 0)
			*method = pnstrdup(v->val.string.val, len);
	}
	return claims_problem(*claims, false);
}

/* Per-client settings */

static Datum
column_value(HeapTuple tuple, TupleDesc desc, const char *column, bool *isnull)
{
	AttrNumber	attnum = get_attnum(oauth_rls_table_oid(OAUTH_TABLE_CLIENTS), column);

	*isnull = true;
	if (attnum == InvalidAttrNumber)
		return (Datum) 0;
	return heap_getattr(tuple, attnum, desc, isnull);
}

/* registry_read_row callback: copies the settings into the cache's memory. */
static void
read_settings_columns(HeapTuple tuple, TupleDesc desc, void *arg)
{
	ClientSettings *cs = (ClientSettings *) arg;
	MemoryContext oldcxt = MemoryContextSwitchTo(settings_cache.cxt);
	bool		isnull;
	Datum		d;

	d = column_value(tuple, desc, "audience", &isnull);
	if (!isnull)
		cs->audience = TextDatumGetCString(d);

	d = column_value(tuple, desc, "extra_claims", &isnull);
	if (!isnull)
	{
		Jsonb	   *extra = DatumGetJsonbPCopy(d);

		if (JB_ROOT_IS_OBJECT(extra) && JB_ROOT_COUNT(extra) > 0)
			cs->extra = extra;
	}

	d = column_value(tuple, desc, "strip_claims", &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		cs->strip = palloc(sizeof(char *) * (n + 1));
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				cs->strip[cs->nstrip++] = TextDatumGetCString(elems[i]);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The settings of a registered client.  Cached per backend; the cache is
 * dropped whenever a change to oauth_rls.clients commits (invalidation.c).
 */
static const ClientSettings *
client_settings(const char *client_id)
{
	ClientSettings *entry;
	ClientSettings *fresh;

	entry = (ClientSettings *) hash_search(table_cache_for_lookup(&settings_cache),
										   client_id, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	/*
	 * Make room before reading: the row's settings are copied into the
	 * cache's memory, which emptying a full cache would free.
	 */
	(void) table_cache_for_insert(&settings_cache, SETTINGS_CACHE_MAX_ENTRIES);
	fresh = palloc0(sizeof(ClientSettings));
	strlcpy(fresh->client_id, client_id, sizeof(fresh->client_id));
	registry_read_row(client_id, read_settings_columns, fresh);

	/* Invalidations processed during the read make the cache stale: skip it. */
	if (!table_cache_valid(&settings_cache))
		return fresh;
	entry = (ClientSettings *) hash_search(settings_cache.htab, client_id, HASH_ENTER, NULL);
	*entry = *fresh;
	return entry;
}

/* Chaining to the user's own hook */

/*
 * The function oauth_rls.chained_hook names, checked: a plain function
 * (jsonb) -> jsonb, not this hook, that the current role may execute.
 * Raises otherwise; the caller turns that into an error object.
 */
static Oid
chained_hook_oid(Oid self)
{
	Oid			fn;
	HeapTuple	tuple;
	Form_pg_proc proc;
	bool		usable;
	AclResult	aclresult;
	int			nestlevel;

	/* A schema-qualified name, never one the caller's search_path picks. */
	nestlevel = oauth_rls_pin_search_path();
	fn = DatumGetObjectId(DirectFunctionCall1(regprocedurein, CStringGetDatum(chained_hook)));
	oauth_rls_unpin_search_path(nestlevel);
	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("oauth_rls.chained_hook does not name a function")));
	proc = (Form_pg_proc) GETSTRUCT(tuple);
	usable = fn != self && proc->prokind == PROKIND_FUNCTION && !proc->proretset &&
		proc->prorettype == JSONBOID && proc->pronargs == 1 &&
		proc->proargtypes.values[0] == JSONBOID;
	ReleaseSysCache(tuple);
	if (!usable)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("oauth_rls.chained_hook must name a function (jsonb) returning jsonb"),
				 errdetail("It may not be oauth_rls.custom_access_token_hook itself.")));

#if PG_VERSION_NUM >= 160000
	aclresult = object_aclcheck(ProcedureRelationId, fn, GetUserId(), ACL_EXECUTE);
#else
	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
#endif
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(fn));
	InvokeFunctionExecuteHook(fn);
	return fn;
}

/* Calls the chained hook; NULL when it returned SQL NULL. */
static Jsonb *
call_chained_hook(Oid fn, Jsonb *event)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(callinfo, 1);
	Datum		result;

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*callinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	callinfo->args[0].value = JsonbPGetDatum(event);
	callinfo->args[0].isnull = false;
	result = FunctionCallInvoke(callinfo);
	if (callinfo->isnull)
		return NULL;
	return DatumGetJsonbP(result);
}

/* An error object Auth acts on: "error" is an object with a message. */
static bool
is_error_object(JsonbValue *error)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (!is_object(error))
		return false;
	v = find_key(error->val.binary.data, "message", &buf);
	if (v == NULL || v->type != jbvString || v->val.string.len == 0)
		return false;
	v = find_key(error->val.binary.data, "http_code", &buf);
	return v == NULL || value_has_type(v, CT_INTEGER);
}

/*
 * Whether the chained hook changed the token's role to one that bypasses row
 * level security (a superuser or a BYPASSRLS role): the guards, and any
 * policy, would not apply to such a token.  The name is looked up as a
 * quoted identifier would be, truncated to NAMEDATALEN - 1 bytes.  A role
 * that does not exist bypasses nothing (PostgREST refuses the token).
 */
static bool
role_bypasses_rls(Jsonb *event, JsonbContainer *chained)
{
	JsonbValue	buf;
	JsonbValue	auth_buf;
	JsonbValue *role = find_key(chained, "role", &buf);
	JsonbValue *auth_claims = find_key(&event->root, "claims", &auth_buf);
	JsonbValue *auth_role;
	JsonbValue	auth_role_buf;
	char	   *name;
	Oid			roleid;

	if (role == NULL)
		return false;
	auth_role = find_key(auth_claims->val.binary.data, "role", &auth_role_buf);
	if (auth_role != NULL && auth_role->val.string.len == role->val.string.len &&
		memcmp(auth_role->val.string.val, role->val.string.val, role->val.string.len) == 0)
		return false;			/* Auth's own choice */

	name = pnstrdup(role->val.string.val,
					pg_mbcliplen(role->val.string.val, role->val.string.len, NAMEDATALEN - 1));
	roleid = get_role_oid(name, true);
	return OidIsValid(roleid) && (superuser_arg(roleid) || has_bypassrls_privilege(roleid));
}

/*
 * Runs the chained hook on the event.  Returns its claims, or NULL after
 * setting out->output to the error object to return (the hook's own, passed
 * through unchanged, or ours when its output is unusable).
 */
static JsonbContainer *
run_chained_hook(Jsonb *event, Oid self, HookOutcome *out, volatile HookStage *stage)
{
	Oid			fn;
	Jsonb	   *result;
	JsonbValue	buf;
	JsonbValue *v;
	char	   *problem;

	*stage = STAGE_CHAIN_RESOLVE;
	fn = chained_hook_oid(self);
	*stage = STAGE_CHAIN_CALL;
	result = call_chained_hook(fn, event);
	*stage = STAGE_PROCESS;

	if (result == NULL)
	{
		out->output = error_object(500, "the chained token hook returned NULL");
		return NULL;
	}
	if (!JB_ROOT_IS_OBJECT(result))
	{
		out->output = error_object(500, "the chained token hook did not return a JSON object");
		return NULL;
	}
	v = find_key(&result->root, "error", &buf);
	if (v != NULL && v->type != jbvNull)
	{
		out->output = is_error_object(v) ? result :
			error_object(500, "the chained token hook returned a malformed error object");
		return NULL;
	}
	if (VARSIZE(result) > HOOK_MAX_EVENT_BYTES)
	{
		out->output = error_object(500, "the chained token hook returned too large a result");
		return NULL;
	}
	v = find_key(&result->root, "claims", &buf);
	if (v == NULL || !is_object(v))
	{
		out->output = error_object(500, "the chained token hook returned no \"claims\" object");
		return NULL;
	}
	problem = claims_problem(v->val.binary.data, true);
	if (problem != NULL)
	{
		out->output = error_object(500, psprintf("the chained token hook returned invalid claims: %s",
												 problem));
		return NULL;
	}
	if (out->tier == TIER_THIRD_PARTY && role_bypasses_rls(event, v->val.binary.data))
	{
		out->output = error_object(500, "the chained token hook gave a third-party client's token "
								   "a role that bypasses row level security");
		return NULL;
	}
	return v->val.binary.data;
}

/* Building the claims */

static int
granted_scopes(JsonbContainer *claims)
{
	JsonbValue	buf;
	JsonbValue *v = find_key(claims, "scope", &buf);
	int			flags = 0;
	const char *s;
	int			len;
	int			pos = 0;
	int			start;
	int			n;

	if (v == NULL || v->type != jbvString)
		return 0;
	s = v->val.string.val;
	len = v->val.string.len;
	while ((n = claims_next_scope(s, len, &pos, &start)) > 0)
	{
		if (n == 5 && memcmp(s + start, "email", 5) == 0)
			flags |= SCOPE_EMAIL;
		else if (n == 5 && memcmp(s + start, "phone", 5) == 0)
			flags |= SCOPE_PHONE;
		else if (n == 7 && memcmp(s + start, "profile", 7) == 0)
			flags |= SCOPE_PROFILE;
	}
	return flags;
}

/* An extra claim is applied unless it is protected or of the wrong type. */
static bool
extra_claim_allowed(const JsonbValue *key, const JsonbValue *value)
{
	const ClaimRule *rule;

	if (key_in(key, protected_claims))
		return false;
	rule = claim_rule(key);
	return rule == NULL || value_has_type(value, rule->type);
}

typedef enum ClaimAction
{
	CLAIM_KEEP,
	CLAIM_DROP,					/* removed, or replaced further on */
	CLAIM_BLANK_STRING,
	CLAIM_BLANK_OBJECT
} ClaimAction;

/* Auth requires email and phone: stripping or minimising blanks them. */
static ClaimAction
blank_or_drop(const JsonbValue *key)
{
	return (key_is(key, "email") || key_is(key, "phone")) ? CLAIM_BLANK_STRING : CLAIM_DROP;
}

static ClaimAction
claim_action(const JsonbValue *key, const ClientSettings *cs, bool minimise, int scopes)
{
	if (key_in(key, event_claims) || key_is(key, "client_tier"))
		return CLAIM_DROP;
	if (cs != NULL)
	{
		if (cs->audience != NULL && key_is(key, "aud"))
			return CLAIM_DROP;
		if (cs->extra != NULL)
		{
			JsonbValue	buf;
			JsonbValue *extra = getKeyJsonValueFromContainer(&cs->extra->root,
															 key->val.string.val,
															 key->val.string.len, &buf);

			if (extra != NULL && extra_claim_allowed(key, extra))
				return CLAIM_DROP;
		}
		for (int i = 0; i < cs->nstrip; i++)
			if (key_is(key, cs->strip[i]) && !key_in(key, protected_claims))
				return blank_or_drop(key);
	}
	if (minimise)
	{
		if (key_is(key, "email") && !(scopes & SCOPE_EMAIL))
			return CLAIM_BLANK_STRING;
		if (key_is(key, "phone") && !(scopes & SCOPE_PHONE))
			return CLAIM_BLANK_STRING;
		if (key_is(key, "user_metadata") && !(scopes & SCOPE_PROFILE))
			return CLAIM_BLANK_OBJECT;
	}
	return CLAIM_KEEP;
}

/*
 * The value of an event claim in the token: Auth's, but for what a chained
 * hook may set (claims differs from auth_claims then; their types were
 * checked): the smaller exp, so that a hook issuing short-lived tokens keeps
 * them short, and the hook's role (refused earlier for a third-party client
 * when it bypasses row level security).
 */
static JsonbValue *
event_claim(JsonbContainer *auth_claims, JsonbContainer *claims, const char *name,
			JsonbValue *buf, JsonbValue *chained_buf)
{
	JsonbValue *v = find_key(auth_claims, name, buf);
	JsonbValue *chained;

	if (claims == auth_claims || !name_in(name, chain_may_set))
		return v;
	chained = find_key(claims, name, chained_buf);
	if (chained == NULL)
		return v;
	if (strcmp(name, "exp") == 0 && v != NULL &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(chained->val.numeric),
										  NumericGetDatum(v->val.numeric))) >= 0)
		return v;
	return chained;
}

/*
 * {"claims": ...}: the working claims (Auth's, or the chained hook's) with
 * stripping and minimisation applied, the event claims (Auth's, but exp and
 * role as event_claim() says, and client_id from its OAuth session when Auth
 * left it out), then the client's audience and extra claims, then client_tier.
 */
static Jsonb *
build_output(JsonbContainer *auth_claims, JsonbContainer *claims, OAuthTier tier,
			 const ClientSettings *cs, const char *session_client)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	value;
	JsonbValue	buf;
	JsonbValue	chained_buf;
	JsonbValue *v;
	JsonbIteratorToken tok;
	bool		minimise = tier == TIER_THIRD_PARTY && minimize_third_party_claims;
	int			scopes = minimise ? granted_scopes(auth_claims) : 0;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "claims");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);

	it = JsonbIteratorInit(claims);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &value, true);
		switch (claim_action(&key, cs, minimise, scopes))
		{
			case CLAIM_KEEP:
				pushJsonbValue(&state, WJB_KEY, &key);
				pushJsonbValue(&state, WJB_VALUE, &value);
				break;
			case CLAIM_DROP:
				break;
			case CLAIM_BLANK_STRING:
				pushJsonbValue(&state, WJB_KEY, &key);
				push_string(&state, "");
				break;
			case CLAIM_BLANK_OBJECT:
				pushJsonbValue(&state, WJB_KEY, &key);
				push_empty_object(&state);
				break;
		}
	}

	for (const char *const *name = event_claims; *name != NULL; name++)
	{
		if (session_client != NULL && strcmp(*name, "client_id") == 0)
		{
			push_key(&state, *name);
			push_string(&state, session_client);
		}
		else if ((v = event_claim(auth_claims, claims, *name, &buf, &chained_buf)) != NULL)
		{
			push_key(&state, *name);
			pushJsonbValue(&state, WJB_VALUE, v);
		}
	}

	if (cs != NULL && cs->audience != NULL)
	{
		push_key(&state, "aud");
		push_string(&state, cs->audience);
	}
	if (cs != NULL && cs->extra != NULL)
	{
		it = JsonbIteratorInit(&cs->extra->root);
		while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			(void) JsonbIteratorNext(&it, &value, true);
			if (extra_claim_allowed(&key, &value))
			{
				pushJsonbValue(&state, WJB_KEY, &key);
				pushJsonbValue(&state, WJB_VALUE, &value);
			}
		}
	}

	push_key(&state, "client_tier");
	push_string(&state, oauth_tier_labels[tier]);

	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* The OAuth client of the event's session */

static void
read_session_client(HeapTuple tuple, Relation rel, void *arg)
{
	SessionClient *sc = (SessionClient *) arg;

	sc->found = auth_uuid_column(tuple, rel, "oauth_client_id", &sc->client);
}

/*
 * The OAuth client of the event's auth.sessions row (claims.session_id), read
 * directly: false when auth.sessions, the row or its oauth_client_id is
 * absent, i.e. when the session is not an OAuth session.
 */
static bool
event_session_client(JsonbContainer *claims, SessionClient *sc)
{
	JsonbValue	buf;
	JsonbValue *v = find_key(claims, "session_id", &buf);
	pg_uuid_t	session;

	memset(sc, 0, sizeof(*sc));
	if (v == NULL || v->type != jbvString ||
		!claims_parse_uuid(v->val.string.val, v->val.string.len, session.data))
		return false;
	if (!auth_read_row("sessions", &session, read_session_client, sc) ||
		!sc->found)
		return false;
	auth_uuid_text(&sc->client, sc->text);
	return true;
}

/* Whether a client_id claim names the session's client (any uuid spelling). */
static bool
names_session_client(const char *client_id, const SessionClient *sc)
{
	pg_uuid_t	u;

	return claims_parse_uuid(client_id, strlen(client_id), u.data) &&
		memcmp(u.data, sc->client.data, UUID_LEN) == 0;
}

/* The event with claims.client_id set: what the chained hook is given. */
static Jsonb *
event_with_client(Jsonb *event, const char *client_id)
{
	Datum		path[2] = {CStringGetTextDatum("claims"), CStringGetTextDatum("client_id")};
	ArrayType  *patharr = construct_array(path, 2, TEXTOID, -1, false, TYPALIGN_INT);
	JsonbValue	value;

	value.type = jbvString;
	value.val.string.val = (char *) client_id;
	value.val.string.len = strlen(client_id);
	return DatumGetJsonbP(DirectFunctionCall4(jsonb_set, JsonbPGetDatum(event),
											  PointerGetDatum(patharr),
											  JsonbPGetDatum(JsonbValueToJsonb(&value)),
											  BoolGetDatum(true)));
}

/* One call */

static void
process_event(Jsonb *event, Oid self, HookOutcome *out, volatile HookStage *stage)
{
	JsonbContainer *auth_claims = NULL;
	JsonbContainer *claims;
	JsonbValue	buf;
	JsonbValue *v;
	char	   *problem;
	const char *client_id = NULL;
	const char *session_client = NULL;	/* set when Auth left client_id out */
	SessionClient session;
	bool		unknown_client = false;
	bool		registered = false;
	OAuthTier	tier = TIER_DIRECT;

	problem = event_problem(event, &auth_claims, &out->method);
	if (problem != NULL)
	{
		out->output = error_object(400, psprintf("invalid hook event: %s", problem));
		return;
	}

	/* "client_id" present means an OAuth token; its type was checked above. */
	v = find_key(auth_claims, "client_id", &buf);
	if (v != NULL)
	{
		char	   *id;

		if (v->val.string.len == 0 || v->val.string.len > CLIENT_ID_MAXLEN)
		{
			out->output = error_object(400, "invalid hook event: claim \"client_id\" must be "
									   "a non-empty string of at most 255 bytes");
			return;
		}
		id = pnstrdup(v->val.string.val, v->val.string.len);
		/* A uuid in any case is that client: the registry holds lower case. */
		(void) claims_lower_uuid(id, v->val.string.len);
		client_id = id;
	}

	/*
	 * An OAuth session's token is that client's, whatever Auth passed: Auth
	 * re-issues it without client_id after MFA verification.  A client_id
	 * that is not the session's is refused, never trusted over the session.
	 */
	if (event_session_client(auth_claims, &session))
	{
		if (client_id != NULL && !names_session_client(client_id, &session))
		{
			out->output = error_object(403, "the token's client_id is not the OAuth client "
									   "of its session");
			return;
		}
		if (client_id == NULL)
		{
			client_id = session.text;
			session_client = session.text;
			event = event_with_client(event, session_client);
		}
	}

	if (client_id != NULL)
	{
		registered = registry_lookup(client_id, &tier);
		if (!registered)
			tier = (OAuthTier) oauth_rls_unregistered_tier;
	}
	else if (find_key(auth_claims, "scope", &buf) != NULL)
	{
		/*
		 * Auth writes scope only for OAuth sessions: without a client and
		 * without an OAuth session behind it, the token is an unknown
		 * client's, never a direct session's (as in RLS, auth_session.c).
		 */
		tier = (OAuthTier) oauth_rls_unregistered_tier;
		unknown_client = true;
	}
	out->client = client_id != NULL ? client_id : unknown_client ? "unknown" : "direct";
	out->tier = tier;

	if (tier == TIER_BLOCKED)
	{
		out->output = error_object(403, "this OAuth client is blocked: no tokens are issued to it");
		out->count = true;
		return;
	}

	claims = auth_claims;
	if (chained_hook != NULL && chained_hook[0] != '\0')
	{
		claims = run_chained_hook(event, self, out, stage);
		if (claims == NULL)
			return;
	}

	out->output = build_output(auth_claims, claims, tier,
							   registered ? client_settings(client_id) : NULL, session_client);
	out->count = true;
}

static const char *
stage_message(HookStage stage)
{
	switch (stage)
	{
		case STAGE_CHAIN_RESOLVE:
			return "oauth_rls.chained_hook does not name a usable hook function";
		case STAGE_CHAIN_CALL:
			return "the chained token hook failed";
		case STAGE_PROCESS:
			break;
	}
	return "the oauth_rls token hook failed";
}

typedef struct ProcessArgs
{
	Jsonb	   *event;
	Oid			self;
	HookOutcome *out;
	volatile HookStage stage;
} ProcessArgs;

static void
process_event_cb(void *arg)
{
	ProcessArgs *a = (ProcessArgs *) arg;

	process_event(a->event, a->self, a->out, &a->stage);
}

/*
 * Logs an error caught while processing an event.  The log line says where
 * (the stage, and the chained hook or the C function that raised it) and
 * the SQLSTATE, never the error's text: a chained hook's message can carry
 * claims (RAISE EXCEPTION '%', event), and the server log is no place for
 * them.  The text goes to DEBUG1 only, for a developer who asks for it.
 */
static void
log_hook_error(HookStage stage, ErrorData *edata)
{
	const char *sqlstate = unpack_sql_state(edata->sqlerrcode);

	if (stage == STAGE_PROCESS)
		ereport(LOG,
				(errcode(edata->sqlerrcode),
				 errmsg("oauth_rls.custom_access_token_hook: %s: SQLSTATE %s in C function %s",
						stage_message(stage), sqlstate,
						edata->funcname != NULL ? edata->funcname : "(unknown)")));
	else
		ereport(LOG,
				(errcode(edata->sqlerrcode),
				 errmsg("oauth_rls.custom_access_token_hook: %s: SQLSTATE %s in %s",
						stage_message(stage), sqlstate, chained_hook)));
	ereport(DEBUG1,
			(errcode(edata->sqlerrcode),
			 errmsg_internal("oauth_rls.custom_access_token_hook: error message: %s",
							 edata->message)));
}

/*
 * Runs process_event guarded: an unexpected error becomes an error object
 * with http_code 500, logged with its SQLSTATE.
 */
static void
run_guarded(Jsonb *event, Oid self, HookOutcome *out)
{
	ProcessArgs args = {event, self, out, STAGE_PROCESS};
	ErrorData  *edata = oauth_rls_try_in_subtransaction(process_event_cb, &args);

	if (edata == NULL)
		return;
	log_hook_error(args.stage, edata);
	out->output = error_object(500, stage_message(args.stage));
	out->count = false;
	FreeErrorData(edata);
}

/* Issuance metrics */

/*
 * Recording never waits for a lock, because Auth's 2 s statement timeout
 * would turn any wait into a failed sign-in:
 *   - the table lock is taken conditionally: a TRUNCATE, VACUUM FULL or
 *     ALTER TABLE under way (or queued) skips the count;
 *   - each counting transaction claims a counter slot of its own, with a
 *     transaction-level lock taken conditionally (the first free slot from
 *     pid % HOOK_ISSUANCE_SHARDS on), so two Auth transactions never write
 *     the same counter row and never wait for each other's commit;
 *   - a counter row locked by anyone else (an administrator's SELECT ... FOR
 *     UPDATE, say) is skipped for the slot's next row;
 *   - the one remaining wait, for someone else's uncommitted insert of the
 *     very row (only possible by hand), is cut short by a local lock_timeout.
 */

/* Field 4 of the slot locks' advisory lock tags; SQL's advisory locks use 1 and 2. */
#define ISSUANCE_SLOT_LOCK_KIND 0x4F52

/* Counter rows of its slot one count tries before it is skipped. */
#define ISSUANCE_ROW_ATTEMPTS 4

/* lock_timeout (ms) while inserting a counter row. */
#define ISSUANCE_INSERT_LOCK_TIMEOUT_MS 50

/* Why a count was not recorded, when no error says it. */
typedef enum IssuanceSkip
{
	ISSUANCE_RECORDED,
	ISSUANCE_TABLE_BUSY,
	ISSUANCE_NO_SLOT,
	ISSUANCE_ROWS_BUSY
} IssuanceSkip;

typedef struct IssuanceArgs
{
	const HookOutcome *out;
	IssuanceSkip result;
} IssuanceArgs;

static SPIPlanPtr issuance_update_plan = NULL;
static SPIPlanPtr issuance_exists_plan = NULL;
static SPIPlanPtr issuance_insert_plan = NULL;

/* The slot this local transaction claimed, and how many of its rows it used. */
static struct
{
	LocalTransactionId lxid;
	int			slot;
	int			rows_used;
} issuance_xact = {InvalidLocalTransactionId, -1, 0};

static LocalTransactionId
current_lxid(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProc->vxid.lxid;
#else
	return MyProc->lxid;
#endif
}

static void
slot_locktag(LOCKTAG *tag, Oid relid, int slot)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) relid, (uint32) slot,
						 ISSUANCE_SLOT_LOCK_KIND);
}

/*
 * The counter slot of this transaction, claimed if need be; -1 when every
 * slot is held by another transaction.  The lock lasts until the transaction
 * ends, like the uncommitted counts it protects.  A slot noted earlier in
 * the transaction is checked again, as a rolled-back subtransaction around
 * an earlier call released its lock.
 */
static int
issuance_slot(Oid relid)
{
	LOCKTAG		tag;
	int			preferred = MyProcPid % HOOK_ISSUANCE_SHARDS;

	if (issuance_xact.lxid == current_lxid() && issuance_xact.slot >= 0)
	{
		bool		held;

		slot_locktag(&tag, relid, issuance_xact.slot);
#if PG_VERSION_NUM >= 170000
		held = LockHeldByMe(&tag, ExclusiveLock, false);
#else
		held = LockHeldByMe(&tag, ExclusiveLock);
#endif
		if (held)
			return issuance_xact.slot;
	}

	for (int i = 0; i < HOOK_ISSUANCE_SLOTS; i++)
	{
		int			slot = i < HOOK_ISSUANCE_SHARDS ? (preferred + i) % HOOK_ISSUANCE_SHARDS : i;

		slot_locktag(&tag, relid, slot);
		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		{
			issuance_xact.lxid = current_lxid();
			issuance_xact.slot = slot;
			issuance_xact.rows_used = 0;
			return slot;
		}
	}
	return -1;
}

/*
 * The shard of a slot's n-th counter row in one transaction: the slot
 * itself first (Auth issues one token per transaction), then rows of the
 * slot's own range.  Updating one row again and again in one transaction
 * makes every update walk all the versions written so far, so a transaction
 * counting many issuances spreads them over HOOK_ISSUANCE_ROWS_PER_SLOT rows.
 */
static int16
slot_shard(int slot, int n)
{
	if (n == 0)
		return (int16) slot;
	return (int16) (HOOK_ISSUANCE_SLOTS + slot * HOOK_ISSUANCE_ROWS_PER_SLOT +
					(n - 1) % HOOK_ISSUANCE_ROWS_PER_SLOT);
}

static SPIPlanPtr
keep_plan(const char *query)
{
	/* $1 hour, $2 client, $3 tier, $4 method, $5 shard */
	Oid			argtypes[5] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, INT2OID};
	SPIPlanPtr	plan = SPI_prepare(query, 5, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

#define ISSUANCE_ROW_KEY \
	"hour OPERATOR(pg_catalog.=) $1 AND client OPERATOR(pg_catalog.=) $2 " \
	"AND tier OPERATOR(pg_catalog.=) $3::oauth_rls.tier AND method OPERATOR(pg_catalog.=) $4 " \
	"AND shard OPERATOR(pg_catalog.=) $5"

static void
prepare_issuance_plans(void)
{
	if (issuance_update_plan == NULL)
		issuance_update_plan = keep_plan(
			"UPDATE oauth_rls.token_issuance SET tokens = tokens OPERATOR(pg_catalog.+) 1 "
			" WHERE ctid OPERATOR(pg_catalog.=) ("
			"       SELECT ctid FROM oauth_rls.token_issuance WHERE " ISSUANCE_ROW_KEY
			"          FOR UPDATE SKIP LOCKED)");
	if (issuance_exists_plan == NULL)
		issuance_exists_plan = keep_plan(
			"SELECT FROM oauth_rls.token_issuance WHERE " ISSUANCE_ROW_KEY);
	if (issuance_insert_plan == NULL)
		issuance_insert_plan = keep_plan(
			"INSERT INTO oauth_rls.token_issuance (hour, client, tier, method, shard, tokens) "
			"VALUES ($1, $2, $3::oauth_rls.tier, $4, $5, 1) "
			"ON CONFLICT ON CONSTRAINT token_issuance_pkey DO NOTHING");
}

static uint64
run_issuance_plan(SPIPlanPtr plan, Datum *values, int expected)
{
	int			rc = SPI_execute_plan(plan, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "recording a token issuance failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * Adds 1 to one counter row without waiting for it: false when someone else
 * holds the row (then the caller tries another).
 */
static bool
add_to_counter_row(Datum *values)
{
	bool		inserted;
	int			nestlevel;

	if (run_issuance_plan(issuance_update_plan, values, SPI_OK_UPDATE) > 0)
		return true;
	/* Not updated: locked by someone, or not there yet. */
	if (run_issuance_plan(issuance_exists_plan, values, SPI_OK_SELECT) > 0)
		return false;

	nestlevel = NewGUCNestLevel();
	if (LockTimeout == 0 || LockTimeout > ISSUANCE_INSERT_LOCK_TIMEOUT_MS)
		(void) set_config_option("lock_timeout", CppAsString2(ISSUANCE_INSERT_LOCK_TIMEOUT_MS),
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	inserted = run_issuance_plan(issuance_insert_plan, values, SPI_OK_INSERT) > 0;
	AtEOXact_GUC(true, nestlevel);
	return inserted;
}

static IssuanceSkip
record_issuance_row(const HookOutcome *out)
{
	Oid			relid = oauth_rls_relation_oid("token_issuance");
	Datum		values[5];
	int			slot;
	IssuanceSkip result = ISSUANCE_ROWS_BUSY;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table oauth_rls.token_issuance does not exist")));
	if (!ConditionalLockRelationOid(relid, RowExclusiveLock))
		return ISSUANCE_TABLE_BUSY;
	slot = issuance_slot(relid);
	if (slot < 0)
		return ISSUANCE_NO_SLOT;

	values[0] = DirectFunctionCall3(timestamptz_trunc_zone, CStringGetTextDatum("hour"),
									TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
									CStringGetTextDatum("UTC"));
	values[1] = CStringGetTextDatum(out->client);
	values[2] = CStringGetTextDatum(oauth_tier_labels[out->tier]);
	values[3] = CStringGetTextDatum(out->method);

	/*
	 * Not oauth_rls_spi_connect(): these query texts are schema-qualified
	 * throughout (tables, types, every operator), so they resolve the same
	 * under any search_path, and pinning it too would cost about a fifth of
	 * a hook call (a GUC nest level per token).  sql/search_path_shadow.sql
	 * checks the qualification.
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_issuance_plans();
	for (int attempt = 0; attempt < ISSUANCE_ROW_ATTEMPTS; attempt++)
	{
		values[4] = Int16GetDatum(slot_shard(slot, issuance_xact.rows_used++));
		if (add_to_counter_row(values))
		{
			result = ISSUANCE_RECORDED;
			break;
		}
	}
	SPI_finish();
	return result;
}

static void
record_issuance_cb(void *arg)
{
	IssuanceArgs *a = (IssuanceArgs *) arg;

	a->result = record_issuance_row(a->out);
}

static const char *
skip_reason(IssuanceSkip skip)
{
	switch (skip)
	{
		case ISSUANCE_TABLE_BUSY:
			return "oauth_rls.token_issuance is locked by another transaction";
		case ISSUANCE_NO_SLOT:
			return "every counter slot is held by another transaction";
		case ISSUANCE_ROWS_BUSY:
			return "its counter rows are locked by another transaction";
		case ISSUANCE_RECORDED:
			break;
	}
	return "";
}

/*
 * Counts the issuance in its own subtransaction, never waiting for a lock
 * (see above): a failure (a missing grant, a full disk) or a busy table is
 * logged and forgotten, never failing the sign-in.  Skipped on a standby and
 * in read-only transactions, where it could not write.
 */
static void
count_issuance(HookOutcome *out)
{
	IssuanceArgs args = {out, ISSUANCE_RECORDED};
	ErrorData  *edata;

	if (!record_issuance || RecoveryInProgress() || XactReadOnly)
		return;
	/* With the counter store: counted at commit, written by the flush. */
	if (counters_count_issuance(GetCurrentTransactionStartTimestamp(), out->tier,
								out->client, out->method))
		return;
	edata = oauth_rls_try_in_subtransaction(record_issuance_cb, &args);
	if (edata == NULL)
	{
		if (args.result != ISSUANCE_RECORDED)
			ereport(LOG,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("oauth_rls.custom_access_token_hook: token issuance not recorded: %s",
							skip_reason(args.result))));
		return;
	}
	ereport(LOG,
			(errcode(edata->sqlerrcode),
			 errmsg("oauth_rls.custom_access_token_hook: token issuance not recorded: %s",
					edata->message),
			 errhint("Check that supabase_auth_admin may write oauth_rls.token_issuance, "
					 "or turn oauth_rls.record_issuance off.")));
	FreeErrorData(edata);
}

/*
 * custom_access_token_hook(event jsonb) -> jsonb.  Not STRICT: a NULL event
 * gets an error object, never a NULL result.
 */
PG_FUNCTION_INFO_V1(oauth_rls_custom_access_token_hook);
Datum
oauth_rls_custom_access_token_hook(PG_FUNCTION_ARGS)
{
	HookOutcome out = {0};

	if (PG_ARGISNULL(0))
		PG_RETURN_JSONB_P(error_object(400, "invalid hook event: the event is NULL"));

	/* Measured before detoasting, so an enormous event costs nothing. */
	if (toast_raw_datum_size(PG_GETARG_DATUM(0)) > HOOK_MAX_EVENT_BYTES)
		PG_RETURN_JSONB_P(error_object(400, psprintf("invalid hook event: larger than %d bytes",
													 HOOK_MAX_EVENT_BYTES)));

	run_guarded(PG_GETARG_JSONB_P(0), fcinfo->flinfo->fn_oid, &out);
	if (out.count)
		count_issuance(&out);
	PG_RETURN_JSONB_P(out.output);
}
