/*
 * policies.c
 *      The access matrix behind guard policies: allows(), session_active(),
 *      and the event trigger that forgets dropped tables (in the matrix, the
 *      guard record and the rewrite log).
 *
 * Guard policies call allows() once per statement (wrapped in a scalar
 * subquery).  The matrix is read directly through its primary key, so the
 * querying role needs no right on it, and kept per backend in a hash table
 * keyed by relation oid, rebuilt whenever a matrix change commits anywhere
 * (see invalidation.c).  Revocation is checked against Supabase Auth's own
 * tables, again read directly, once per statement: the answer must change at
 * the very next statement after a session is deleted.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "auth_session.h"
#include "claims.h"
#include "claims_parse.h"
#include "invalidation.h"
#include "policies.h"
#include "registry.h"

#define ALL_COMMANDS ((uint8) ((1 << GUARD_COMMAND_COUNT) - 1))

/* A matrix cache grows only with distinct guarded tables queried. */
#define MATRIX_CACHE_MAX_ENTRIES 10000

static const char *const command_names[GUARD_COMMAND_COUNT] = {
	"select", "insert", "update", "delete"
};

/*
 * Without a matrix entry: direct sessions and first-party clients keep what
 * they had, OAuth access beyond that is opted into, never inherited.
 */
static const uint8 default_access[TIER_COUNT] = {
	ALL_COMMANDS,				/* direct */
	ALL_COMMANDS,				/* first_party */
	0,							/* third_party */
	0							/* blocked */
};

bool		oauth_rls_enforce_revocation = true;

typedef struct MatrixEntry
{
	Oid			relid;			/* hash key */
	uint8		access[TIER_COUNT]; /* bit per GuardCommand */
} MatrixEntry;

static TableCache matrix_cache =
	TABLE_CACHE("oauth_rls access matrix", OAUTH_TABLE_ACCESS, sizeof(Oid), MatrixEntry, false);

static void
assign_enforce_revocation(bool newval, void *extra)
{
	oauth_rls_request_changed();
}

void
policies_init(void)
{
	/*
	 * PGC_SUSET: changing it weakens a protection, so only superusers and
	 * roles granted SET on it (the extension's owner,
	 * sql/install/80_settings.sql) may, never the API roles.
	 */
	DefineCustomBoolVariable("oauth_rls.enforce_revocation",
							 "Guard policies deny OAuth requests whose session was revoked.",
							 "When on (default) and auth.sessions exists, a guarded table refuses "
							 "an OAuth request whose auth.sessions row is gone or whose client "
							 "is soft-deleted, from the next statement on.",
							 &oauth_rls_enforce_revocation, true,
							 PGC_SUSET, 0, NULL, assign_enforce_revocation, NULL);
}

/* ----------------------------------------------------------------
 * The access matrix
 * ---------------------------------------------------------------- */

static int
command_from_name(const char *name, int len)
{
	for (int c = 0; c < GUARD_COMMAND_COUNT; c++)
		if ((size_t) len == strlen(command_names[c]) &&
			pg_strncasecmp(name, command_names[c], len) == 0)
			return c;
	return -1;
}

/* The commands array of a matrix row as a bit mask; its CHECK keeps it clean. */
static uint8
commands_mask(Datum commands)
{
	ArrayType  *arr = DatumGetArrayTypeP(commands);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	uint8		mask = 0;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		int			c;

		if (nulls[i])
			continue;
		c = command_from_name(VARDATA_ANY(elems[i]), VARSIZE_ANY_EXHDR(elems[i]));
		if (c >= 0)
			mask |= (uint8) (1 << c);
	}
	return mask;
}

/* Reads every tier's row for one table through access_matrix_pkey. */
static void
read_matrix(Oid relid, uint8 *access)
{
	Oid			matrixid = oauth_rls_table_oid(OAUTH_TABLE_ACCESS);
	Oid			indexid = oauth_rls_relation_oid("access_matrix_pkey");
	Relation	rel;
	TupleDesc	desc;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	AttrNumber	tbl_att,
				tier_att,
				commands_att;

	if (!OidIsValid(matrixid) || !OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("access matrix oauth_rls.access_matrix does not exist"),
				 errhint("Is the oauth_rls extension installed in this database?")));

	memcpy(access, default_access, sizeof(default_access));

	rel = table_open(matrixid, AccessShareLock);
	desc = RelationGetDescr(rel);
	tbl_att = get_attnum(matrixid, "tbl");
	tier_att = get_attnum(matrixid, "tier");
	commands_att = get_attnum(matrixid, "commands");
	snapshot = oauth_rls_register_read_snapshot();

	ScanKeyInit(&key, tbl_att, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, indexid, true, snapshot, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		tier_null,
					commands_null;
		Datum		label = heap_getattr(tuple, tier_att, desc, &tier_null);
		Datum		commands = heap_getattr(tuple, commands_att, desc, &commands_null);
		OAuthTier	tier;

		if (tier_null)
			continue;
		tier = oauth_rls_tier_from_oid(DatumGetObjectId(label));
		access[tier] = commands_null ? 0 : commands_mask(commands);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	/* The blocked tier gets nothing, whatever a row says. */
	access[TIER_BLOCKED] = 0;
}

static uint8
matrix_access(Oid relid, OAuthTier tier)
{
	MatrixEntry *entry;
	HTAB	   *htab;
	uint8		access[TIER_COUNT];

	entry = (MatrixEntry *) hash_search(table_cache_for_lookup(&matrix_cache),
										&relid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->access[tier];

	read_matrix(relid, access);

	/* Invalidations processed during the read make the table stale: skip it. */
	htab = table_cache_for_insert(&matrix_cache, MATRIX_CACHE_MAX_ENTRIES);
	if (htab != NULL)
	{
		entry = (MatrixEntry *) hash_search(htab, &relid, HASH_ENTER, NULL);
		memcpy(entry->access, access, sizeof(access));
	}
	return access[tier];
}

/* ----------------------------------------------------------------
 * Revocation: Supabase Auth's sessions and clients
 * ---------------------------------------------------------------- */

/*
 * Whether an OAuth request's session is live: the token names a session
 * whose auth.sessions row (auth_session.c, read once per statement) belongs
 * to the token's user and to the request's client, and that client is not
 * soft-deleted.  Auth records the client of every OAuth session, so a row
 * without one (oauth_client_id NULL or missing) is not this client's: a token
 * cannot borrow the user's direct session.  A request of an unknown client
 * (a scope but no client) has nothing to vouch for it.
 */
static bool
read_session_active(RequestClientSource source, const char *client)
{
	const RequestClaims *rc = claims_current();
	const RequestSession *s;
	pg_uuid_t	client_uuid;

	if (source == CLIENT_UNKNOWN || !rc->has_session || !rc->has_user ||
		!claims_parse_uuid(client, strlen(client), client_uuid.data))
		return false;
	s = auth_request_session();
	return s->found &&
		s->has_user && memcmp(s->user_id.data, rc->user_id.data, UUID_LEN) == 0 &&
		s->has_client && memcmp(s->client.data, client_uuid.data, UUID_LEN) == 0 &&
		s->client_live;
}

/*
 * The revocation answer of the current statement (see StatementKey): per row
 * it costs a few comparisons.
 */
static struct
{
	StatementKey key;
	bool		oauth;			/* the request acts through an OAuth client */
	bool		sessions_exist; /* auth.sessions is there to consult */
	bool		active;
} session_cache = {0};

static void
compute_session_state(void)
{
	const char *client;
	bool		per_statement;
	RequestClientSource source;

	session_cache.key.epoch = 0;
	source = auth_request_client(&client, &per_statement);
	session_cache.oauth = source != CLIENT_NONE;
	session_cache.sessions_exist = false;
	session_cache.active = true;
	if (session_cache.oauth)
	{
		session_cache.sessions_exist = auth_sessions_exist();
		session_cache.active = session_cache.sessions_exist &&
			read_session_active(source, client);
	}
	/* After the reads, as auth_request_session's own key (auth_session.c). */
	session_cache.key = statement_key_now();
}

/*
 * Always true for a direct session.  For an OAuth request (by its claim or
 * by its session), where auth.sessions does not exist there is nothing to
 * vouch for it: false.
 */
bool
policies_session_active(void)
{
	if (!statement_key_holds(&session_cache.key))
		compute_session_state();
	return !session_cache.oauth || session_cache.active;
}

/* Revocation passes when not enforced, when there is nothing to revoke from, or the session is live. */
static bool
revocation_passes(void)
{
	if (!oauth_rls_enforce_revocation)
		return true;
	if (!statement_key_holds(&session_cache.key))
		compute_session_state();
	return !session_cache.oauth || !session_cache.sessions_exist || session_cache.active;
}

bool
policies_allows(Oid relid, GuardCommand command)
{
	OAuthTier	tier = registry_current_tier();

	if (tier == TIER_BLOCKED)
		return false;
	if ((matrix_access(relid, tier) & (1 << command)) == 0)
		return false;
	return tier == TIER_DIRECT || revocation_passes();
}

/*
 * The answer of one allows() call site, kept for one command of one
 * statement of one request: guards call allows() per row (a subquery would
 * make PostgreSQL's policy recursion check fire), so each row costs a
 * comparison of these keys.  Anything the answer depends on changing (the
 * request, the statement or command, an invalidation of our tables, the
 * settings, whose assign hooks move the cache epoch) recomputes it.
 */
#define ALLOWS_NAME_MAX 8		/* longer than every command's name */

typedef struct AllowsCallSite
{
	StatementKey key;
	Oid			relid;
	int			name_len;		/* the command's name as given */
	char		name[ALLOWS_NAME_MAX];
	bool		const_args;		/* both are constants of the call: never compared */
	bool		answer;
} AllowsCallSite;

/*
 * Whether every argument of the call is a Const, as in the guards
 * (allows('t'::regclass, 'select')): then they are the same at every call
 * through this flinfo.  Not a Param, which a PL/pgSQL loop can change
 * between calls of one expression state.
 */
static bool
call_args_are_consts(FmgrInfo *flinfo)
{
	ListCell   *lc;

	if (flinfo->fn_expr == NULL || !IsA(flinfo->fn_expr, FuncExpr))
		return false;
	foreach(lc, ((FuncExpr *) flinfo->fn_expr)->args)
		if (!IsA(lfirst(lc), Const))
			return false;
	return true;
}

/*
 * By the name as given, byte for byte (a per-row name gets its own answer
 * when it differs): the case-insensitive lookup of the command is done when
 * the answer is computed, not per row.
 */
static inline bool
allows_site_holds(const AllowsCallSite *site, Oid relid, const text *name)
{
	int			len = VARSIZE_ANY_EXHDR(name);

	return site->relid == relid && site->name_len == len &&
		memcmp(site->name, VARDATA_ANY(name), len) == 0 &&
		statement_key_holds(&site->key);
}

static pg_noinline Datum
allows_compute(FunctionCallInfo fcinfo)
{
	Oid			relid = PG_GETARG_OID(0);
	text	   *name = PG_GETARG_TEXT_PP(1);
	int			len = VARSIZE_ANY_EXHDR(name);
	int			command = command_from_name(VARDATA_ANY(name), len);
	AllowsCallSite *site = (AllowsCallSite *) fcinfo->flinfo->fn_extra;
	StatementKey now;

	if (command < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a command oauth_rls.allows() knows",
						text_to_cstring(name)),
				 errhint("Use one of select, insert, update, delete.")));
	if (site == NULL)
	{
		site = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AllowsCallSite));
		site->const_args = call_args_are_consts(fcinfo->flinfo);
	}

	/*
	 * The key of before the answer: an invalidation processed while it is
	 * computed moves the epoch, and the next call computes it again.
	 */
	now = statement_key_now();
	site->key.epoch = 0;
	site->relid = relid;
	Assert(len <= ALLOWS_NAME_MAX);	/* a known command's name fits */
	site->name_len = len;
	memcpy(site->name, VARDATA_ANY(name), len);
	site->answer = policies_allows(relid, (GuardCommand) command);
	site->key = now;
	PG_RETURN_BOOL(site->answer);
}

/* allows(tbl regclass, command text) -> boolean */
PG_FUNCTION_INFO_V1(oauth_rls_allows);
Datum
oauth_rls_allows(PG_FUNCTION_ARGS)
{
	AllowsCallSite *site = (AllowsCallSite *) fcinfo->flinfo->fn_extra;

	if (likely(site != NULL) &&
		(likely(site->const_args) ?
		 statement_key_holds(&site->key) :
		 allows_site_holds(site, PG_GETARG_OID(0), PG_GETARG_TEXT_PP(1))))
		PG_RETURN_BOOL(site->answer);
	return allows_compute(fcinfo);
}

/* session_active() -> boolean */
PG_FUNCTION_INFO_V1(oauth_rls_session_active);
Datum
oauth_rls_session_active(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(policies_session_active());
}

/* ----------------------------------------------------------------
 * Forgetting dropped tables
 * ---------------------------------------------------------------- */

/*
 * The relations the current DROP removed, from pg_event_trigger_dropped_objects().
 * Only these are forgotten: a row whose table merely looks absent (say, one
 * created by a transaction our catalog snapshot predates) is left alone, as
 * deleting a matrix entry can widen what a tier gets.
 */
static Oid *
dropped_relations(int *count)
{
	Oid		   *oids;
	MemoryContext callercxt = CurrentMemoryContext;
	int			nestlevel;

	/*
	 * Runs as whoever drops, often a superuser: nothing in the text may
	 * resolve through that role's search_path (a planted "=" would run).
	 */
	nestlevel = oauth_rls_spi_connect();
	if (SPI_execute("SELECT objid FROM pg_catalog.pg_event_trigger_dropped_objects() "
					"WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid"
					" AND objsubid OPERATOR(pg_catalog.=) 0",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_event_trigger_dropped_objects()");
	*count = (int) SPI_processed;
	oids = MemoryContextAlloc(callercxt, sizeof(Oid) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		oids[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
												 SPI_tuptable->tupdesc, 1, &isnull));
	}
	oauth_rls_spi_finish(nestlevel);
	return oids;
}

static bool
oid_in(Oid oid, const Oid *oids, int count)
{
	for (int i = 0; i < count; i++)
		if (oids[i] == oid)
			return true;
	return false;
}

/*
 * Deletes the rows of oauth_rls.<relname> whose "tbl" is one of the dropped
 * relations.  Runs with the extension's access, as the dropping role need
 * not have any right on our tables, so that a later table that reuses the
 * oid inherits nothing.
 */
static void
forget_dropped_in(const char *relname, const Oid *dropped, int ndropped)
{
	Oid			relid = oauth_rls_relation_oid(relname);
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	tuple;
	AttrNumber	tbl_att;
	bool		deleted = false;

	/* Only a plain table can be scanned and deleted from as below. */
	if (!OidIsValid(relid) || ndropped == 0 || get_rel_relkind(relid) != RELKIND_RELATION)
		return;
	tbl_att = get_attnum(relid, "tbl");
	if (tbl_att == InvalidAttrNumber)
		return;

	rel = table_open(relid, RowExclusiveLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		tbl = heap_getattr(tuple, tbl_att, RelationGetDescr(rel), &isnull);
		TM_FailureData tmfd;

		if (isnull || !oid_in(DatumGetObjectId(tbl), dropped, ndropped))
			continue;

		/*
		 * A concurrent writer of the same row (another drop, or set_access)
		 * wins; its row version still names the dropped table and goes with
		 * the next drop that sees it.
		 */
		if (table_tuple_delete(rel, &tuple->t_self, GetCurrentCommandId(true),
							   snapshot, InvalidSnapshot, true, &tmfd, false) == TM_Ok)
			deleted = true;
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);

	/* The statement trigger does not see these deletes: invalidate here. */
	if (deleted)
		CacheInvalidateRelcache(rel);
	table_close(rel, RowExclusiveLock);
}

/* _forget_dropped_tables(): sql_drop event trigger. */
PG_FUNCTION_INFO_V1(oauth_rls_forget_dropped_tables);
Datum
oauth_rls_forget_dropped_tables(PG_FUNCTION_ARGS)
{
	Oid		   *dropped;
	int			ndropped;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("oauth_rls._forget_dropped_tables() must be called as an event trigger")));

	dropped = dropped_relations(&ndropped);
	forget_dropped_in("access_matrix", dropped, ndropped);
	forget_dropped_in("guarded_tables", dropped, ndropped);
	/* Else revert_rewrite() could unguard a new table that reuses the oid. */
	forget_dropped_in("rewrite_log", dropped, ndropped);
	PG_RETURN_VOID();
}
