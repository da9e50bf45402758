/*
 * invalidation.c
 *      Generation counters for the extension's tables, fed by relcache
 *      invalidations, and lazily resolved catalog oids.
 *
 * Plain DML on a user table sends no invalidation, so the extension's cached
 * tables carry a statement trigger that calls CacheInvalidateRelcache(): the
 * message is transactional (sent at commit, discarded on abort, applied
 * locally at the next command) and is WAL-logged, so hot standbys replay it.
 * A logical replication subscriber's apply worker fires row triggers only, so
 * the same tables also carry a row trigger enabled for replicas.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "storage/procarray.h"
#include "fmgr.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "invalidation.h"

uint64		oauth_rls_table_generation[OAUTH_TABLE_COUNT];
uint64		oauth_rls_cache_epoch = 1;
TimestampTz oauth_rls_epoch_statement = 0;

static const char *const table_names[OAUTH_TABLE_COUNT] = {
	"clients", "access_matrix", "api_keys", "jwt_issuers", "jwt_keys", "token_only_roles",
	"jwt_denylist", "rate_limits"
};

/* Resolved lazily; forgotten whenever any of our tables is invalidated. */
static bool catalog_ids_valid = false;
static uint64 callbacks_seen = 0;	/* relcache callbacks so far */
static Oid	namespace_oid = InvalidOid;
static Oid	table_oids[OAUTH_TABLE_COUNT];
static Oid	tier_type_oid = InvalidOid;
static Oid	tier_label_oids[TIER_COUNT];

static void
bump_all(void)
{
	for (int i = 0; i < OAUTH_TABLE_COUNT; i++)
		oauth_rls_table_generation[i]++;
	oauth_rls_cache_epoch++;
	catalog_ids_valid = false;
}

/*
 * Runs inside invalidation processing, which can happen at any lock
 * acquisition: it must only bump counters, never touch caches or catalogs.
 */
static void
relcache_callback(Datum arg, Oid relid)
{
	callbacks_seen++;
	if (!OidIsValid(relid) || !catalog_ids_valid)
	{
		/* Full reset, or ids unknown: assume anything changed. */
		if (!OidIsValid(relid))
			bump_all();
		else
		{
			for (int i = 0; i < OAUTH_TABLE_COUNT; i++)
				oauth_rls_table_generation[i]++;
			oauth_rls_cache_epoch++;
		}
		return;
	}
	for (int i = 0; i < OAUTH_TABLE_COUNT; i++)
	{
		if (table_oids[i] == relid)
		{
			oauth_rls_table_generation[i]++;
			oauth_rls_cache_epoch++;
			/* A dropped and re-created extension gets new oids. */
			catalog_ids_valid = false;
		}
	}
}

/*
 * A schema was created, renamed, dropped or had its owner or rights changed:
 * the schema named oauth_rls may no longer be the extension's (see
 * extension_namespace()).  Like relcache_callback, only flags.
 */
static void
namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	callbacks_seen++;
	bump_all();
}

/*
 * The epoch moves before the invalidations are applied, and the statement is
 * recorded after: should applying them fail, the next call tries again.
 */
void
oauth_rls_epoch_new_statement(void)
{
	TimestampTz statement = GetCurrentStatementStartTimestamp();

	oauth_rls_cache_epoch++;
	AcceptInvalidationMessages();
	oauth_rls_epoch_statement = statement;
}

/*
 * A transaction ended (or, in a procedure, one began after COMMIT without a
 * new statement): answers read in it, of Auth's tables especially, are not
 * the next one's.  Only moves the counter.
 */
static void
epoch_xact_callback(XactEvent event, void *arg)
{
	oauth_rls_cache_epoch++;
}

/*
 * A rolled-back subtransaction may have written what an answer was read from
 * (auth.sessions, say), and command ids do not go back: without this, an
 * answer read after its write would outlive it.  One that wrote nothing has
 * no transaction id (a write gives one to it and to its parents first), and
 * one that only changed settings is seen by their assign hooks: a policy's
 * helper that catches an error per row does not empty the caches per row.
 */
static void
epoch_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB &&
		TransactionIdIsValid(GetCurrentTransactionIdIfAny()))
		oauth_rls_cache_epoch++;
}

void
parallel_scope_record(ParallelScope *scope)
{
	scope->parallel = IsInParallelMode();
	scope->xact_start = GetCurrentTransactionStartTimestamp();
	scope->stmt_start = GetCurrentStatementStartTimestamp();
}

bool
parallel_scope_holds(const ParallelScope *scope)
{
	return !scope->parallel ||
		(IsInParallelMode() &&
		 scope->xact_start == GetCurrentTransactionStartTimestamp() &&
		 scope->stmt_start == GetCurrentStatementStartTimestamp());
}

static void
table_cache_reset(TableCache *cache)
{
	HASHCTL		ctl;

	/* cache->name is a string literal: it outlives the context. */
	if (cache->cxt == NULL)
		cache->cxt = AllocSetContextCreateInternal(TopMemoryContext, cache->name,
												   ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(cache->cxt);
	ctl.keysize = cache->keysize;
	ctl.entrysize = cache->entrysize;
	ctl.hcxt = cache->cxt;
	cache->htab = hash_create(cache->name, 64, &ctl,
							  HASH_ELEM | HASH_CONTEXT |
							  (cache->string_keys ? HASH_STRINGS : HASH_BLOBS));
	cache->generation = oauth_rls_table_generation[cache->table];
	parallel_scope_record(&cache->built);
}

bool
table_cache_valid(const TableCache *cache)
{
	return cache->htab != NULL &&
		cache->generation == oauth_rls_table_generation[cache->table] &&
		parallel_scope_holds(&cache->built);
}

HTAB *
table_cache_for_lookup(TableCache *cache)
{
	if (!table_cache_valid(cache))
		table_cache_reset(cache);
	return cache->htab;
}

HTAB *
table_cache_for_insert(TableCache *cache, long max_entries)
{
	if (!table_cache_valid(cache))
		return NULL;
	if (hash_get_num_entries(cache->htab) >= max_entries)
		table_cache_reset(cache);
	return cache->htab;
}

/*
 * GetLatestSnapshot() refuses to run in parallel mode (it would replace the
 * snapshot the executor keeps for RI checks), so there our own snapshot is
 * taken the way catalog snapshots are, into storage of our own.  Leader and
 * workers then read our tables as a plain query does: with the statement's
 * snapshot instead, a REPEATABLE READ transaction would keep seeing a client
 * as first_party in parallel queries after it was blocked.
 */
static SnapshotData read_snapshot_data = {SNAPSHOT_MVCC};

Snapshot
oauth_rls_register_read_snapshot(void)
{
	if (IsInParallelMode())
		return RegisterSnapshot(GetSnapshotData(&read_snapshot_data));
	return RegisterSnapshot(GetLatestSnapshot());
}

void
invalidation_init(void)
{
	for (int i = 0; i < OAUTH_TABLE_COUNT; i++)
		oauth_rls_table_generation[i] = 1;
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_callback, (Datum) 0);
	RegisterXactCallback(epoch_xact_callback, NULL);
	RegisterSubXactCallback(epoch_subxact_callback, NULL);
}

/*
 * The extension's schema, if it is still called oauth_rls; else InvalidOid.
 *
 * With a trusted install the schema belongs to the installing role, which
 * may rename it and create another schema called oauth_rls.  The SQL the
 * extension runs (SPI from C, its SQL bodies) names oauth_rls.<table>: were
 * the C code to go by the name alone, or by ids it resolved before the
 * rename, it would read or write (as the table's owner, for API key
 * bookkeeping) the installer's look-alike tables, whose triggers would then
 * run as the bootstrap superuser, and would scan a look-alike view as a heap.
 * So the schema must be both the one named oauth_rls and the extension's.
 */
static Oid
extension_namespace(void)
{
	Oid			by_name = get_namespace_oid(OAUTH_RLS_SCHEMA, true);
	Oid			nsp = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	if (!OidIsValid(by_name))
		return InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("oauth_rls"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nsp = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp == by_name ? nsp : InvalidOid;
}

static void
resolve_catalog_ids(void)
{
	uint64		callbacks_before = callbacks_seen;
	bool		complete;

	if (catalog_ids_valid)
		return;

	namespace_oid = extension_namespace();
	for (int i = 0; i < OAUTH_TABLE_COUNT; i++)
		table_oids[i] = OidIsValid(namespace_oid)
			? get_relname_relid(table_names[i], namespace_oid) : InvalidOid;

	tier_type_oid = OidIsValid(namespace_oid)
		? GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						  CStringGetDatum("tier"), ObjectIdGetDatum(namespace_oid))
		: InvalidOid;
	for (int t = 0; t < TIER_COUNT; t++)
		tier_label_oids[t] = OidIsValid(tier_type_oid)
			? GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
							  ObjectIdGetDatum(tier_type_oid),
							  CStringGetDatum(oauth_tier_labels[t]))
			: InvalidOid;

	/*
	 * Trust the ids only if all exist (a missing one may appear later, e.g.
	 * mid-install) and no invalidation arrived while they were looked up.
	 */
	complete = OidIsValid(tier_type_oid);
	for (int i = 0; i < OAUTH_TABLE_COUNT; i++)
		complete = complete && OidIsValid(table_oids[i]);
	for (int t = 0; t < TIER_COUNT; t++)
		complete = complete && OidIsValid(tier_label_oids[t]);
	catalog_ids_valid = complete && callbacks_seen == callbacks_before;
}

Oid
oauth_rls_table_oid(OAuthRlsTable table)
{
	resolve_catalog_ids();
	return table_oids[table];
}

Oid
oauth_rls_relation_oid(const char *relname)
{
	resolve_catalog_ids();
	return OidIsValid(namespace_oid) ? get_relname_relid(relname, namespace_oid) : InvalidOid;
}

Oid
oauth_rls_tier_oid(OAuthTier tier)
{
	resolve_catalog_ids();
	if (!OidIsValid(tier_label_oids[tier]))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type oauth_rls.tier has no label \"%s\"", oauth_tier_labels[tier]),
				 errhint("Is the oauth_rls extension installed in this database?")));
	return tier_label_oids[tier];
}

OAuthTier
oauth_rls_tier_from_oid(Oid label)
{
	resolve_catalog_ids();
	for (int t = 0; t < TIER_COUNT; t++)
		if (tier_label_oids[t] == label)
			return (OAuthTier) t;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%u is not a label of type oauth_rls.tier", label)));
	pg_unreachable();
}

/*
 * Whether a row trigger already queued the invalidation of relid in the
 * current (sub)transaction.  A logical replication apply worker fires row
 * triggers only, one change at a time with a command boundary in between,
 * and the invalidation queue merges duplicates within one command only: a
 * message per row would send thousands for one replicated statement and
 * overflow every backend's invalidation queue (a full cache reset for all).
 * Keyed by the transaction id of the subtransaction that wrote the row
 * (written rows always have one): ids are never reused, so a rolled-back
 * subtransaction's messages are never mistaken for ones still queued.
 */
#define QUEUED_SLOTS 4

static struct
{
	Oid			relid;
	FullTransactionId fxid;
}			queued[QUEUED_SLOTS];
static int	queued_next = 0;

static bool
already_queued(Oid relid, FullTransactionId fxid)
{
	for (int i = 0; i < QUEUED_SLOTS; i++)
		if (queued[i].relid == relid && FullTransactionIdEquals(queued[i].fxid, fxid))
			return true;
	return false;
}

static void
remember_queued(Oid relid, FullTransactionId fxid)
{
	for (int i = 0; i < QUEUED_SLOTS; i++)
		if (queued[i].relid == relid)
		{
			queued[i].fxid = fxid;
			return;
		}
	queued[queued_next].relid = relid;
	queued[queued_next].fxid = fxid;
	queued_next = (queued_next + 1) % QUEUED_SLOTS;
}

static bool
ignored_column(Trigger *trigger, const char *attname)
{
	for (int i = 0; i < trigger->tgnargs; i++)
		if (strcmp(trigger->tgargs[i], attname) == 0)
			return true;
	return false;
}

/*
 * Whether an updated row changed a column other than those named in the
 * trigger's arguments (api_keys' last_used_at, refreshed on use: a refresh
 * must not empty every backend's key cache).  Byte-wise: a value rewritten
 * with another representation counts as changed, which only costs a reload.
 */
static bool
row_changed(TriggerData *trigdata)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		bool		oldnull;
		bool		newnull;
		Datum		oldval;
		Datum		newval;

		if (attr->attisdropped || ignored_column(trigdata->tg_trigger, NameStr(attr->attname)))
			continue;
		oldval = heap_getattr(trigdata->tg_trigtuple, i + 1, desc, &oldnull);
		newval = heap_getattr(trigdata->tg_newtuple, i + 1, desc, &newnull);
		if (oldnull != newnull ||
			(!oldnull && !datum_image_eq(oldval, newval, attr->attbyval, attr->attlen)))
			return true;
	}
	return false;
}

/*
 * A row trigger's part: the first relevant change of the table in this
 * (sub)transaction queues the invalidation, the others find it queued.
 */
static bool
row_needs_invalidation(TriggerData *trigdata)
{
	FullTransactionId fxid = GetCurrentFullTransactionIdIfAny();
	Oid			relid = RelationGetRelid(trigdata->tg_relation);

	if (FullTransactionIdIsValid(fxid) && already_queued(relid, fxid))
		return false;
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) && !row_changed(trigdata))
		return false;
	if (FullTransactionIdIsValid(fxid))
		remember_queued(relid, fxid);
	return true;
}

/*
 * oauth_rls._invalidate_caches([ignored column, ...]): trigger on every
 * cached table.  Queues a relcache invalidation of the table, delivered to
 * every backend when (and only if) the writing transaction commits.
 *
 * As a statement trigger (ENABLE ALWAYS) it covers every SQL statement and
 * COPY, restores with session_replication_role = replica included.  A logical
 * replication apply worker fires no INSERT, UPDATE or DELETE statement
 * triggers, only row triggers (and TRUNCATE statement triggers): there the
 * same function runs as an AFTER row trigger, ENABLE REPLICA so that it costs
 * nothing in ordinary sessions.  The arguments name columns whose change
 * alone (an UPDATE) does not invalidate; the statement triggers say the same
 * with UPDATE OF.
 */
PG_FUNCTION_INFO_V1(oauth_rls_invalidate_caches);
Datum
oauth_rls_invalidate_caches(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("oauth_rls._invalidate_caches() must be called as a trigger")));
	/* A BEFORE row trigger returning NULL would silently skip the row. */
	if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) && !TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("oauth_rls._invalidate_caches() must be fired AFTER when fired FOR EACH ROW")));

	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || row_needs_invalidation(trigdata))
		CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
