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

/*
 * The revocation answer of the current statement.  A new top-level statement
 * has a new statement start time, a new command of the same statement a new
 * command id, a new request a new generation: any of them recomputes.
 */
static struct
{
	bool		valid;
	uint64		request_generation;
	TimestampTz xact_start;
	TimestampTz stmt_start;
	CommandId	command_id;
	bool		parallel;
	bool		sessions_exist; /* auth.sessions is there to consult */
	bool		active;
} session_cache = {0};

static void
assign_enforce_revocation(bool newval, void *extra)
{
	oauth_rls_request_generation++;
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

/* Checks one row found by id; returns whether it keeps the session alive. */
typedef bool (*RowCheck) (HeapTuple tuple, Relation rel, const void *arg);

/*
 * Finds the row of auth.<relname> whose uuid column "id" equals id, through
 * its primary key index when it has the usual name, and applies check.  A
 * table whose "id" is not a uuid is not the table we know: no row.
 */
static bool
auth_row_passes(Oid auth_ns, const char *relname, const char *pkeyname,
				const pg_uuid_t *id, RowCheck check, const void *arg)
{
	Oid			relid = get_relname_relid(relname, auth_ns);
	Oid			indexid;
	AttrNumber	id_att;
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		passes = false;

	if (!OidIsValid(relid))
		return false;
	id_att = get_attnum(relid, "id");
	if (id_att == InvalidAttrNumber || get_atttype(relid, id_att) != UUIDOID)
		return false;
	indexid = get_relname_relid(pkeyname, auth_ns);
	if (OidIsValid(indexid) && IndexGetRelation(indexid, true) != relid)
		indexid = InvalidOid;

	rel = table_open(relid, AccessShareLock);
	snapshot = oauth_rls_register_read_snapshot();
	ScanKeyInit(&key, id_att, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(id));
	scan = systable_beginscan(rel, indexid, OidIsValid(indexid), snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		passes = check(tuple, rel, arg);
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return passes;
}

/*
 * A uuid column equals the expected value.  A missing column or a NULL is
 * accepted only where Auth versions legitimately lack it (missing_ok).
 */
static bool
uuid_column_matches(HeapTuple tuple, Relation rel, const char *column,
					const pg_uuid_t *expected, bool missing_ok)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), column);
	bool		isnull;
	Datum		value;

	if (att == InvalidAttrNumber)
		return missing_ok;
	if (get_atttype(RelationGetRelid(rel), att) != UUIDOID)
		return false;
	value = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	if (isnull)
		return missing_ok;
	return memcmp(DatumGetUUIDP(value)->data, expected->data, UUID_LEN) == 0;
}

typedef struct SessionExpect
{
	const pg_uuid_t *user_id;
	const pg_uuid_t *client_id;
} SessionExpect;

/*
 * The session row must belong to the token's user and, where Auth recorded
 * one (oauth_client_id exists from the OAuth server's release on), to the
 * token's client: a token cannot borrow another live session.
 */
static bool
session_row_check(HeapTuple tuple, Relation rel, const void *arg)
{
	const SessionExpect *expect = (const SessionExpect *) arg;

	return uuid_column_matches(tuple, rel, "user_id", expect->user_id, false) &&
		uuid_column_matches(tuple, rel, "oauth_client_id", expect->client_id, true);
}

/* A client is live until Auth soft-deletes it by setting deleted_at. */
static bool
client_row_check(HeapTuple tuple, Relation rel, const void *arg)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), "deleted_at");
	bool		isnull;

	if (att == InvalidAttrNumber)
		return true;
	(void) heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	return isnull;
}

/* The session row belongs to the expected user (authenticate()'s check). */
static bool
session_user_check(HeapTuple tuple, Relation rel, const void *arg)
{
	return uuid_column_matches(tuple, rel, "user_id", (const pg_uuid_t *) arg, false);
}

bool
policies_session_row_live(const pg_uuid_t *session_id, const pg_uuid_t *user_id,
						  bool *sessions_exist)
{
	Oid			auth_ns = get_namespace_oid("auth", true);

	*sessions_exist = OidIsValid(auth_ns) && OidIsValid(get_relname_relid("sessions", auth_ns));
	if (!*sessions_exist)
		return false;
	return auth_row_passes(auth_ns, "sessions", "sessions_pkey", session_id,
						   session_user_check, user_id);
}

/* Whether an OAuth request's session and client are live (no caching). */
static bool
read_session_active(const RequestClaims *rc, Oid auth_ns)
{
	pg_uuid_t	client_uuid;
	SessionExpect expect;

	/* Fail closed: nothing to look up means nothing to vouch for. */
	if (!rc->has_session || !rc->has_user ||
		!claims_parse_uuid(rc->client_id, strlen(rc->client_id), client_uuid.data))
		return false;

	expect.user_id = &rc->user_id;
	expect.client_id = &client_uuid;
	if (!auth_row_passes(auth_ns, "sessions", "sessions_pkey", &rc->session_id,
						 session_row_check, &expect))
		return false;
	return auth_row_passes(auth_ns, "oauth_clients", "oauth_clients_pkey", &client_uuid,
						   client_row_check, NULL);
}

static bool
session_cache_fresh(void)
{
	return session_cache.valid &&
		session_cache.request_generation == oauth_rls_request_generation &&
		session_cache.xact_start == GetCurrentTransactionStartTimestamp() &&
		session_cache.stmt_start == GetCurrentStatementStartTimestamp() &&
		session_cache.command_id == GetCurrentCommandId(false) &&
		(!session_cache.parallel || IsInParallelMode());
}

/*
 * Fills session_cache for an OAuth request.  Where auth.sessions does not
 * exist there is nothing to revoke from: sessions_exist says so, and the
 * request is not vouched for.
 */
static void
compute_session_state(const RequestClaims *rc)
{
	Oid			auth_ns;
	bool		exist;
	bool		active = false;

	session_cache.valid = false;
	auth_ns = get_namespace_oid("auth", true);
	exist = OidIsValid(auth_ns) && OidIsValid(get_relname_relid("sessions", auth_ns));
	if (exist)
		active = read_session_active(rc, auth_ns);

	session_cache.request_generation = oauth_rls_request_generation;
	session_cache.xact_start = GetCurrentTransactionStartTimestamp();
	session_cache.stmt_start = GetCurrentStatementStartTimestamp();
	session_cache.command_id = GetCurrentCommandId(false);
	session_cache.parallel = IsInParallelMode();
	session_cache.sessions_exist = exist;
	session_cache.active = active;
	session_cache.valid = true;
}

bool
policies_session_active(void)
{
	const RequestClaims *rc = claims_current();

	if (rc->client_id == NULL)
		return true;
	if (!session_cache_fresh())
		compute_session_state(rc);
	return session_cache.sessions_exist && session_cache.active;
}

/* Revocation passes when not enforced, or the session is live. */
static bool
revocation_passes(void)
{
	const RequestClaims *rc;

	if (!oauth_rls_enforce_revocation)
		return true;
	rc = claims_current();
	if (rc->client_id == NULL)
		return true;
	if (!session_cache_fresh())
		compute_session_state(rc);
	return !session_cache.sessions_exist || session_cache.active;
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

/* allows(tbl regclass, command text) -> boolean */
PG_FUNCTION_INFO_V1(oauth_rls_allows);
Datum
oauth_rls_allows(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	text	   *name = PG_GETARG_TEXT_PP(1);
	int			command = command_from_name(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));

	if (command < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a command oauth_rls.allows() knows",
						text_to_cstring(name)),
				 errhint("Use one of select, insert, update, delete.")));
	PG_RETURN_BOOL(policies_allows(relid, (GuardCommand) command));
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

	if (!OidIsValid(relid) || ndropped == 0)
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
