/*
 * invalidation.h
 *      Per-backend cache invalidation for the extension's own tables.
 *
 * Each table whose rows a backend caches has a generation counter.  A
 * statement trigger on the table (oauth_rls._invalidate_caches) queues a
 * relcache invalidation at commit, and so does, on a logical replication
 * subscriber, a row trigger enabled for replicas (the apply worker fires no
 * statement triggers); every backend's relcache callback bumps the matching
 * counter.  Callbacks only bump counters (they can fire inside any
 * lock acquisition), and readers rebuild lazily when the counter moved.
 */
#ifndef OAUTH_RLS_INVALIDATION_H
#define OAUTH_RLS_INVALIDATION_H

#include "oauth_rls.h"

#include "access/xact.h"
#include "utils/hsearch.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

typedef enum OAuthRlsTable
{
	OAUTH_TABLE_CLIENTS = 0,
	OAUTH_TABLE_ACCESS,			/* access matrix (policies module) */
	OAUTH_TABLE_API_KEYS,		/* API keys (api_keys module) */
	OAUTH_TABLE_JWT_ISSUERS,	/* authenticate(): issuers (jwt_keys module) */
	OAUTH_TABLE_JWT_KEYS,		/* authenticate(): keys */
	OAUTH_TABLE_TOKEN_ONLY_ROLES,	/* authenticate(): token-only roles */
	OAUTH_TABLE_JWT_DENYLIST,	/* authenticate(): whether the deny-list is empty */
	OAUTH_TABLE_RATE_LIMITS,	/* rate limits (ratelimit module) */
	OAUTH_TABLE_COUNT
} OAuthRlsTable;

/* Bumped when the table's contents, or the catalog objects, may have changed. */
extern uint64 oauth_rls_table_generation[OAUTH_TABLE_COUNT];

/* Oid of the extension's table, or InvalidOid when it does not exist. */
extern Oid	oauth_rls_table_oid(OAuthRlsTable table);

/* Oid of an object named relname in schema oauth_rls (index, sequence...). */
extern Oid	oauth_rls_relation_oid(const char *relname);

/* Oid of the oauth_rls.tier label for a tier; errors if the type is missing. */
extern Oid	oauth_rls_tier_oid(OAuthTier tier);

/* Inverse of oauth_rls_tier_oid. */
extern OAuthTier oauth_rls_tier_from_oid(Oid label);

/* The start time of the statement oauth_rls_cache_epoch last moved for. */
extern TimestampTz oauth_rls_epoch_statement;

/* A new statement began: moves the epoch and applies invalidations. */
extern void oauth_rls_epoch_new_statement(void);

/*
 * The cache epoch (oauth_rls.h), moved first if a new statement began.  The
 * first call of each statement also applies invalidations committed by
 * others.  Postgres applies them at transaction start and whenever a lock is
 * taken; a cached answer takes no lock, so without this a long transaction
 * would keep serving a registry, matrix or key state that changed after it
 * began.  Inline: per row it costs one call that returns a variable
 * (GetCurrentStatementStartTimestamp) and two comparisons.
 */
static inline uint64
oauth_rls_current_epoch(void)
{
	if (unlikely(GetCurrentStatementStartTimestamp() != oauth_rls_epoch_statement))
		oauth_rls_epoch_new_statement();
	return oauth_rls_cache_epoch;
}

/* Applies invalidations committed by others once per statement (as above). */
static inline void
oauth_rls_accept_invalidations(void)
{
	(void) oauth_rls_current_epoch();
}

/*
 * Where a cached answer was built.  An answer built inside a parallel
 * operation is trusted only within that same statement (leader and workers
 * share its transaction and statement start times): a worker's invalidation
 * counters start from nothing, and the statement's end is a cheap, safe
 * point to read again.
 */
typedef struct ParallelScope
{
	bool		parallel;
	TimestampTz xact_start;
	TimestampTz stmt_start;
} ParallelScope;

extern void parallel_scope_record(ParallelScope *scope);
extern bool parallel_scope_holds(const ParallelScope *scope);

/*
 * A per-backend hash table of rows read from one of our tables, emptied when
 * that table's generation moves.  Built inside a parallel operation, it is
 * trusted only until the operation ends (see ParallelScope).  cxt holds the hash table and anything its entries
 * point to, so emptying it frees everything.
 */
typedef struct TableCache
{
	const char *name;
	OAuthRlsTable table;
	Size		keysize;
	Size		entrysize;
	bool		string_keys;	/* HASH_STRINGS, else HASH_BLOBS */
	MemoryContext cxt;
	HTAB	   *htab;
	uint64		generation;
	ParallelScope built;
} TableCache;

#define TABLE_CACHE(name, table, keysize, entrytype, string_keys) \
	{(name), (table), (keysize), sizeof(entrytype), (string_keys), NULL, NULL, 0, {false, 0, 0}}

/* Whether the cache reflects every committed change of its table. */
extern bool table_cache_valid(const TableCache *cache);

/* The hash table to look in, emptied first if it is stale. */
extern HTAB *table_cache_for_lookup(TableCache *cache);

/*
 * The hash table to add a just-read entry to, emptied first if it holds
 * max_entries; NULL when an invalidation arrived since the lookup (the entry
 * may already be stale: use it once, do not keep it).
 */
extern HTAB *table_cache_for_insert(TableCache *cache, long max_entries);

/*
 * A registered snapshot for reading our tables (and Auth's) directly: the
 * latest one, so a change is seen as soon as its invalidation moved the
 * generation, in parallel operations too (a fresh snapshot of our own there),
 * so that a parallel query under REPEATABLE READ gives the answer a plain one
 * gives.
 */
extern Snapshot oauth_rls_register_read_snapshot(void);

/* Registers the invalidation and transaction callbacks; called once from _PG_init. */
extern void invalidation_init(void);

#endif							/* OAUTH_RLS_INVALIDATION_H */
