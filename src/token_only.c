/*
 * token_only.c
 *      The trust boundary of authenticate(): a token-only login role gets
 *      request.jwt.* claims and a role only from a verified token.
 *
 * Every route by which a session sets a setting ends in set_config_option(),
 * which calls the setting's check hook: SET, SET LOCAL, set_config(), a
 * function's SET clause, ALTER ROLE/DATABASE ... SET (validated when stored
 * and again when applied at login), and startup options (PGOPTIONS).  So:
 *   - the claim settings the module defines (claims.c, and the legacy
 *     request.jwt.claim.role / .email defined here) get a check hook that
 *     refuses a non-empty value in a token-only session unless authenticate()
 *     is setting it;
 *   - the built-in "role" setting has no hook of ours, so its check hook is
 *     wrapped: after PostgreSQL's own check, a token-only session may only go
 *     back to itself (RESET ROLE, SET ROLE to its own name) unless
 *     authenticate() is setting it.
 * A role set before the library was loaded (startup options when oauth_rls is
 * not in shared_preload_libraries) is checked at the session's first
 * statement.  docs/direct-connections.md states what this does not cover.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc_tables.h"
#include "utils/hsearch.h"
#include "tcop/pquery.h"
#include "utils/snapmgr.h"

#include "invalidation.h"
#include "token_only.h"

bool		token_only_authenticating = false;

typedef struct RoleEntry
{
	Oid			role;			/* hash key */
	bool		token_only;
} RoleEntry;

static TableCache role_cache =
TABLE_CACHE("oauth_rls token-only roles", OAUTH_TABLE_TOKEN_ONLY_ROLES, sizeof(Oid), RoleEntry, false);

static GucStringCheckHook builtin_role_check = NULL;
static bool preloaded = false;	/* loaded before the session's first statement */
static bool first_statement_check = false;
static ExecutorStart_hook_type prev_executor_start = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* Legacy settings Supabase's auth.role() and auth.email() read. */
static char *setting_claim_role = NULL;
static char *setting_claim_email = NULL;

void
token_only_legacy_values(const char **role, const char **email)
{
	*role = setting_claim_role;
	*email = setting_claim_email;
}

static bool
read_token_only(Oid role)
{
	Oid			relid = oauth_rls_table_oid(OAUTH_TABLE_TOKEN_ONLY_ROLES);
	Oid			indexid = oauth_rls_relation_oid("token_only_roles_pkey");
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		return false;
	rel = table_open(relid, AccessShareLock);
	snapshot = oauth_rls_register_read_snapshot();
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(role));
	scan = systable_beginscan(rel, indexid, true, snapshot, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

bool
token_only_session(void)
{
	Oid			role = GetSessionUserId();
	HTAB	   *htab;
	RoleEntry  *entry;
	bool		found;
	bool		result;

	if (!OidIsValid(role))
		return false;
	htab = table_cache_for_lookup(&role_cache);
	entry = hash_search(htab, &role, HASH_FIND, NULL);
	if (entry)
		return entry->token_only;
	result = read_token_only(role);
	htab = table_cache_for_insert(&role_cache, 1000);
	if (htab)
	{
		entry = hash_search(htab, &role, HASH_ENTER, &found);
		entry->token_only = result;
	}
	return result;
}

/* Whether a setting change needs no check: ours, a default, a worker's copy. */
static bool
change_is_trusted(GucSource source)
{
	return token_only_authenticating || source == PGC_S_DEFAULT ||
		InitializingParallelWorker || IsParallelWorker();
}

bool
token_only_check_claim_setting(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0' || change_is_trusted(source))
		return true;
	if (!IsTransactionState())
	{
		/* Whose session this is cannot be looked up: fail closed. */
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("request.jwt.* settings cannot be given outside a transaction while oauth_rls is loaded");
		GUC_check_errhint("Set them inside the request's transaction, or call oauth_rls.authenticate(token).");
		return false;
	}
	if (token_only_session())
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("role \"%s\" is token-only: request.jwt.* settings are set only by oauth_rls.authenticate()",
						 GetUserNameFromId(GetSessionUserId(), false));
		GUC_check_errdetail("The value is not shown.");
		return false;
	}
	return true;
}

/* The wrapped check hook of the built-in "role" setting. */
static bool
check_role_token_only(char **newval, void **extra, GucSource source)
{
	if (!builtin_role_check(newval, extra, source))
		return false;
	if (change_is_trusted(source) || strcmp(*newval, "none") == 0 || !IsTransactionState())
		return true;
	if (!token_only_session() || get_role_oid(*newval, true) == GetSessionUserId())
		return true;
	/* the built-in check's guc_malloc'd result (in a memory context from 16 on) */
#if PG_VERSION_NUM >= 160000
	guc_free(*extra);
#else
	free(*extra);
#endif
	*extra = NULL;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("role \"%s\" is token-only: it changes role only through oauth_rls.authenticate()",
					 GetUserNameFromId(GetSessionUserId(), false));
	return false;
}

static void
wrap_role_check_hook(void)
{
	struct config_generic **vars;
	int			n;

#if PG_VERSION_NUM >= 160000
	vars = get_guc_variables(&n);
#else
	vars = get_guc_variables();
	n = GetNumConfigOptions();
#endif
	for (int i = 0; i < n; i++)
	{
		if (vars[i]->vartype == PGC_STRING && strcmp(vars[i]->name, "role") == 0)
		{
			struct config_string *role = (struct config_string *) vars[i];

			if (role->check_hook == check_role_token_only)
				return;
			builtin_role_check = role->check_hook;
			role->check_hook = check_role_token_only;
			/* Set before we were loaded: look at it once we can. */
			first_statement_check = IsUnderPostmaster && role->gen.source != PGC_S_DEFAULT;
			return;
		}
	}
	elog(ERROR, "oauth_rls: the \"role\" setting was not found");
}

/* A token-only session whose role was switched before we could check. */
static void
run_first_statement_check(void)
{
	first_statement_check = false;
	if (OidIsValid(GetCurrentRoleId()) && GetCurrentRoleId() != GetSessionUserId() &&
		!token_only_authenticating && token_only_session())
		ereport(FATAL,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is token-only: its role was set when the session started",
						GetUserNameFromId(GetSessionUserId(), false)),
				 errhint("Put oauth_rls in shared_preload_libraries or in the role's session_preload_libraries, and do not pass role in startup options.")));
}

static void
executor_start(QueryDesc *queryDesc, int eflags)
{
	if (unlikely(first_statement_check))
		run_first_statement_check();
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				ProcessUtilityContext context, ParamListInfo params,
				QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (unlikely(first_statement_check) && IsTransactionState())
		run_first_statement_check();
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

static void
define_guarded_setting(const char *name, const char *desc, char **var)
{
	DefineCustomStringVariable(name, desc, NULL, var, "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							   token_only_check_claim_setting, NULL, NULL);
}

void
token_only_require_preloaded(void)
{
	if (!preloaded && token_only_session())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is token-only, but oauth_rls was not preloaded for its sessions",
						GetUserNameFromId(GetSessionUserId(), false)),
				 errdetail("Before its first call to oauth_rls, such a session could switch role and set claims unchecked."),
				 errhint("As a superuser: ALTER ROLE %s SET session_preload_libraries = 'oauth_rls'; (or add oauth_rls to shared_preload_libraries).",
						 quote_identifier(GetUserNameFromId(GetSessionUserId(), false)))));
}

void
token_only_init(void)
{
	/*
	 * shared_preload_libraries loads us in the postmaster, session_preload_
	 * libraries at connection start, before any statement (no portal runs
	 * yet); a load by a function call or LOAD happens inside a statement.
	 */
	preloaded = !IsUnderPostmaster || ActivePortal == NULL;
	define_guarded_setting("request.jwt.claim.role",
						   "Legacy per-claim setting for role (read by auth.role()).",
						   &setting_claim_role);
	define_guarded_setting("request.jwt.claim.email",
						   "Legacy per-claim setting for email (read by auth.email()).",
						   &setting_claim_email);
	wrap_role_check_hook();
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = executor_start;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = process_utility;
}
