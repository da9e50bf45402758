/*
 * counters.c
 *      The shared-memory counter store and its flush to tables.
 *
 * One fixed-size table in shared memory serves three needs: the token
 * buckets of rate limits (ratelimit.c), the last use of API keys and the
 * token issuance counts.  Many backends update it on every request without
 * writing a row; a background worker writes last_used_at and token_issuance
 * in batches every oauth_rls.counters_flush_interval.
 *
 * Layout: the entries form sets of COUNTER_WAYS; a key's hash picks its set,
 * and each set is guarded by one of COUNTER_PARTITIONS LWLocks.  A lookup
 * scans the eight ways of one set.  When a set is full, the entry to reuse
 * is the least busy one (a hit count, up to COUNTER_HITS_MAX, less one at
 * every eviction in the set so that old bursts fade), preferring entries
 * with nothing left to flush.
 * Memory is therefore fixed, whatever the number of distinct keys.  No
 * critical section allocates, raises an error or waits for anything but the
 * set's lock; nothing is held across a wait.
 *
 * Where the memory comes from: with shared_preload_libraries = 'oauth_rls',
 * from the main shared memory (RequestAddinShmemSpace), on every version.
 * Without it, on PostgreSQL 17+ from the DSM registry (GetNamedDSMSegment),
 * created by the first backend that needs it; on 15/16 there is none, and
 * everything keeps its behaviour without the store (counters_available()).
 *
 * The flush: a launcher worker, connected to no database (so it never holds
 * up DROP DATABASE), wakes every interval, finds the databases with pending
 * entries and starts one short-lived worker per database, which writes them
 * in one transaction and exits.  Entries are taken out when read and put back
 * if that transaction aborts, so a crash loses at most what accumulated since
 * the last flush.  oauth_rls.flush_counters() does the same for the current
 * database, from SQL (pg_cron, tests).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/pg_shmem.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#if PG_VERSION_NUM >= 170000
#include "storage/dsm_registry.h"
#endif

#include "common.h"
#include "counters.h"

#define COUNTER_WAYS 8
#define COUNTER_PARTITIONS 64
#define COUNTER_MIN_ENTRIES (COUNTER_WAYS * COUNTER_PARTITIONS)
#define COUNTER_STORE_NAME "oauth_rls counters"
/* Busyness saturates here: an entry idle for this many evictions in its set can go. */
#define COUNTER_HITS_MAX 255
#define COUNTER_TRANCHE_NAME "oauth_rls_counters"

/* Databases one launcher round flushes at most (the rest wait a round). */
#define FLUSH_MAX_DATABASES 32
/* A database whose flush worker failed this many rounds in a row is purged. */
#define FLUSH_MAX_FAILURES 3

typedef struct CounterEntry
{
	uint64		hash;
	Oid			dbid;
	uint8		kind;			/* CounterKind; COUNTER_FREE when unused */
	uint16		keylen;
	uint32		hits;			/* busyness: +1 per use, -1 per eviction in the set */
	union
	{
		struct
		{
			double		tokens;
			TimestampTz updated;
		}			bucket;
		struct
		{
			TimestampTz used;	/* latest use recorded */
			TimestampTz flushed;	/* latest use written to the table */
		}			use;
		struct
		{
			int64		pending;	/* counted, not yet written */
		}			issuance;
	}			u;
	char		key[COUNTER_KEY_MAX];
} CounterEntry;

typedef struct CounterStore
{
	int			tranche_id;
	uint32		nsets;			/* a power of two, at least COUNTER_PARTITIONS */
	pg_atomic_uint64 evictions;
	pg_atomic_uint64 lost_issuances;	/* counts evicted before a flush */
	pg_atomic_uint64 lost_key_uses;
	pg_atomic_uint64 flushes;
	pg_atomic_uint32 launcher_pid;
	pg_atomic_uint64 launcher_requested;	/* TimestampTz of the last dynamic start */
	pg_atomic_uint32 connected_db;	/* set by a flush worker once connected */
	LWLockPadded locks[COUNTER_PARTITIONS];
	CounterEntry entries[FLEXIBLE_ARRAY_MEMBER];
} CounterStore;

/* Settings */
static int	counter_store_entries = 16384;
static int	flush_interval_ms = 10000;
/* oauth_rls.counters_write_through: key use and issuance go to the tables. */
static bool write_through = false;

static CounterStore *store = NULL;
static bool preloaded = false;
static bool tranche_registered = false;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static uint32
store_nsets(int entries)
{
	uint32		nsets = COUNTER_PARTITIONS;

	while (nsets * COUNTER_WAYS < (uint32) entries && nsets < (1U << 24))
		nsets <<= 1;
	return nsets;
}

static Size
store_size(uint32 nsets)
{
	return add_size(offsetof(CounterStore, entries),
					mul_size(mul_size(nsets, COUNTER_WAYS), sizeof(CounterEntry)));
}

/* Initialises a new store: runs once, in whoever creates the memory. */
static void
store_init(void *ptr)
{
	CounterStore *s = (CounterStore *) ptr;
	uint32		nsets = store_nsets(counter_store_entries);

	memset(s, 0, store_size(nsets));
	s->nsets = nsets;
	s->tranche_id = LWLockNewTrancheId();
	for (int i = 0; i < COUNTER_PARTITIONS; i++)
		LWLockInitialize(&s->locks[i].lock, s->tranche_id);
	pg_atomic_init_u64(&s->evictions, 0);
	pg_atomic_init_u64(&s->lost_issuances, 0);
	pg_atomic_init_u64(&s->lost_key_uses, 0);
	pg_atomic_init_u64(&s->flushes, 0);
	pg_atomic_init_u32(&s->launcher_pid, 0);
	pg_atomic_init_u64(&s->launcher_requested, 0);
	pg_atomic_init_u32(&s->connected_db, InvalidOid);
}

static void
counters_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(store_size(store_nsets(counter_store_entries)));
}

static void
counters_shmem_startup(void)
{
	bool		found;
	void	   *ptr;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ptr = ShmemInitStruct(COUNTER_STORE_NAME, store_size(store_nsets(counter_store_entries)), &found);
	if (!found)
		store_init(ptr);
	LWLockRelease(AddinShmemInitLock);
	store = (CounterStore *) ptr;
}

bool
counters_available(void)
{
	if (store == NULL && !preloaded)
	{
#if PG_VERSION_NUM >= 170000
		bool		found;

		if (IsUnderPostmaster)
			store = GetNamedDSMSegment(COUNTER_STORE_NAME,
									   store_size(store_nsets(counter_store_entries)),
									   store_init, &found);
#endif
	}
	if (store != NULL && !tranche_registered)
	{
		LWLockRegisterTranche(store->tranche_id, COUNTER_TRANCHE_NAME);
		tranche_registered = true;
	}
	return store != NULL;
}

void
counters_require(const char *what)
{
	if (counters_available())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s needs oauth_rls's shared memory, which this server has not set up", what),
			 errdetail("On PostgreSQL 15 and 16 the counter store exists only when the library "
					   "is preloaded."),
			 errhint("Add oauth_rls to shared_preload_libraries in postgresql.conf and restart "
					 "the server.")));
}

/* Store operations: every one holds one set's lock for a few instructions. */

static inline uint64
entry_hash(CounterKind kind, Oid dbid, const char *key, int keylen)
{
	return hash_bytes_extended((const unsigned char *) key, keylen,
							   ((uint64) dbid << 8) | (uint64) kind);
}

static inline LWLock *
set_lock(uint64 hash)
{
	return &store->locks[(hash & (store->nsets - 1)) % COUNTER_PARTITIONS].lock;
}

static inline CounterEntry *
set_of(uint64 hash)
{
	return &store->entries[(hash & (store->nsets - 1)) * COUNTER_WAYS];
}

static inline bool
entry_pending(const CounterEntry *e)
{
	return (e->kind == COUNTER_ISSUANCE && e->u.issuance.pending > 0) ||
		(e->kind == COUNTER_KEY_USE && e->u.use.used > e->u.use.flushed);
}

/* Accounts for what an entry about to be reused had not yet flushed. */
static void
entry_evict(CounterEntry *e)
{
	pg_atomic_fetch_add_u64(&store->evictions, 1);
	if (e->kind == COUNTER_ISSUANCE && e->u.issuance.pending > 0)
		pg_atomic_fetch_add_u64(&store->lost_issuances, (uint64) e->u.issuance.pending);
	else if (e->kind == COUNTER_KEY_USE && entry_pending(e))
		pg_atomic_fetch_add_u64(&store->lost_key_uses, 1);
}

/*
 * The entry for a key in its set (the set's lock held exclusively): found,
 * or, when create, made in a free way or in place of the least busy entry.
 * *fresh tells a new entry, whose fields are zero.
 */
static CounterEntry *
set_find(CounterKind kind, Oid dbid, uint64 hash, const char *key, int keylen,
		 bool create, bool *fresh)
{
	CounterEntry *set = set_of(hash);
	CounterEntry *victim = NULL;
	uint64		victim_score = PG_UINT64_MAX;

	*fresh = false;
	for (int i = 0; i < COUNTER_WAYS; i++)
	{
		CounterEntry *e = &set[i];
		uint64		score;

		if (e->kind == kind && e->hash == hash && e->dbid == dbid &&
			e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
		{
			if (e->hits < COUNTER_HITS_MAX)
				e->hits++;
			return e;
		}
		score = e->kind == COUNTER_FREE ? 0
			: (uint64) e->hits + (entry_pending(e) ? ((uint64) 1 << 32) : 0);
		if (score < victim_score)
		{
			victim = e;
			victim_score = score;
		}
	}
	if (!create)
		return NULL;
	if (victim->kind != COUNTER_FREE)
	{
		entry_evict(victim);
		for (int i = 0; i < COUNTER_WAYS; i++)
			if (set[i].hits > 0)
				set[i].hits--;
	}
	memset(victim, 0, offsetof(CounterEntry, key));
	victim->hash = hash;
	victim->dbid = dbid;
	victim->kind = (uint8) kind;
	victim->keylen = (uint16) keylen;
	victim->hits = 1;
	memcpy(victim->key, key, keylen);
	*fresh = true;
	return victim;
}

bool
counters_take_token(const char *key, int keylen, double rate, double burst,
					double *retry_after)
{
	TimestampTz now = GetCurrentTimestamp();
	uint64		hash;
	LWLock	   *lock;
	CounterEntry *e;
	bool		fresh;
	bool		admitted;

	Assert(keylen <= COUNTER_KEY_MAX && rate > 0 && burst >= 1);
	counters_require("a rate limit");
	hash = entry_hash(COUNTER_BUCKET, MyDatabaseId, key, keylen);
	lock = set_lock(hash);

	LWLockAcquire(lock, LW_EXCLUSIVE);
	e = set_find(COUNTER_BUCKET, MyDatabaseId, hash, key, keylen, true, &fresh);
	if (fresh)
	{
		e->u.bucket.tokens = burst;
		e->u.bucket.updated = now;
	}
	else if (now > e->u.bucket.updated)
	{
		/* A clock read before another backend's is never used to refill. */
		e->u.bucket.tokens = Min(burst, e->u.bucket.tokens +
								 (double) (now - e->u.bucket.updated) / USECS_PER_SEC * rate);
		e->u.bucket.updated = now;
	}
	else
		e->u.bucket.tokens = Min(burst, e->u.bucket.tokens);
	admitted = e->u.bucket.tokens >= 1.0;
	if (admitted)
		e->u.bucket.tokens -= 1.0;
	else
		*retry_after = (1.0 - e->u.bucket.tokens) / rate;
	LWLockRelease(lock);
	return admitted;
}

/* The flush launcher (declared here, started on demand below). */
static bool launcher_ensure(void);

static bool
store_takes_bookkeeping(void)
{
	return !write_through && counters_available() && OidIsValid(MyDatabaseId) &&
		!RecoveryInProgress() && launcher_ensure();
}

bool
counters_note_key_use(const char *key_id, TimestampTz when)
{
	int			keylen = strlen(key_id);
	uint64		hash;
	LWLock	   *lock;
	CounterEntry *e;
	bool		fresh;

	if (keylen > COUNTER_KEY_MAX || !store_takes_bookkeeping())
		return false;
	hash = entry_hash(COUNTER_KEY_USE, MyDatabaseId, key_id, keylen);
	lock = set_lock(hash);
	LWLockAcquire(lock, LW_EXCLUSIVE);
	e = set_find(COUNTER_KEY_USE, MyDatabaseId, hash, key_id, keylen, true, &fresh);
	if (when > e->u.use.used)
		e->u.use.used = when;
	LWLockRelease(lock);
	return true;
}

/*
 * Issuance keys: the hour (8 bytes), the tier (1), the client's length (2),
 * the client, then the method.
 */
#define ISSUANCE_KEY_HEADER 11

static int
issuance_key(char *buf, TimestampTz hour, OAuthTier tier, const char *client, const char *method)
{
	size_t		clen = strlen(client);
	size_t		mlen = strlen(method);
	uint16		clen16 = (uint16) clen;

	if (ISSUANCE_KEY_HEADER + clen + mlen > COUNTER_KEY_MAX)
		return -1;
	memcpy(buf, &hour, 8);
	buf[8] = (char) tier;
	memcpy(buf + 9, &clen16, 2);
	memcpy(buf + ISSUANCE_KEY_HEADER, client, clen);
	memcpy(buf + ISSUANCE_KEY_HEADER + clen, method, mlen);
	return (int) (ISSUANCE_KEY_HEADER + clen + mlen);
}

static void
issuance_add(Oid dbid, const char *key, int keylen, int64 n)
{
	uint64		hash = entry_hash(COUNTER_ISSUANCE, dbid, key, keylen);
	LWLock	   *lock = set_lock(hash);
	CounterEntry *e;
	bool		fresh;

	LWLockAcquire(lock, LW_EXCLUSIVE);
	e = set_find(COUNTER_ISSUANCE, dbid, hash, key, keylen, true, &fresh);
	e->u.issuance.pending += n;
	LWLockRelease(lock);
}

/*
 * Issuances counted in this transaction, added to the store when it
 * commits (a rolled-back sign-in issued nothing).  Auth issues one token per
 * transaction; a transaction that counts more kinds than this counts the
 * rest in the table.
 */
#define XACT_ISSUANCE_MAX 8

static struct
{
	int			n;
	struct
	{
		int			keylen;
		int64		count;
		char		key[COUNTER_KEY_MAX];
	}			item[XACT_ISSUANCE_MAX];
} xact_issuance;

static bool xact_callback_registered = false;

/* What the current transaction's flush took out of the store. */
typedef struct FlushedItem
{
	CounterKind kind;
	int			keylen;
	int64		count;			/* issuance */
	TimestampTz used;			/* key use */
	char		key[COUNTER_KEY_MAX];
} FlushedItem;

static FlushedItem *flushed_items = NULL;
static int	flushed_count = 0;
static Oid	flushed_dbid = InvalidOid;

static void
flushed_settle(bool committed)
{
	for (int i = 0; i < flushed_count; i++)
	{
		FlushedItem *it = &flushed_items[i];

		if (it->kind == COUNTER_ISSUANCE && !committed)
			issuance_add(flushed_dbid, it->key, it->keylen, it->count);
		else if (it->kind == COUNTER_KEY_USE && committed)
		{
			uint64		hash = entry_hash(COUNTER_KEY_USE, flushed_dbid, it->key, it->keylen);
			LWLock	   *lock = set_lock(hash);
			CounterEntry *e;
			bool		fresh;

			LWLockAcquire(lock, LW_EXCLUSIVE);
			e = set_find(COUNTER_KEY_USE, flushed_dbid, hash, it->key, it->keylen, false, &fresh);
			if (e != NULL && it->used > e->u.use.flushed)
				e->u.use.flushed = it->used;
			LWLockRelease(lock);
		}
	}
	if (flushed_items != NULL)
		pfree(flushed_items);
	flushed_items = NULL;
	flushed_count = 0;
}

static void
counters_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			for (int i = 0; i < xact_issuance.n; i++)
				issuance_add(MyDatabaseId, xact_issuance.item[i].key,
							 xact_issuance.item[i].keylen, xact_issuance.item[i].count);
			xact_issuance.n = 0;
			flushed_settle(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			xact_issuance.n = 0;
			flushed_settle(false);
			break;
		default:
			break;
	}
}

static void
register_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(counters_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

bool
counters_count_issuance(TimestampTz at, OAuthTier tier, const char *client, const char *method)
{
	TimestampTz hour = at - ((at % USECS_PER_HOUR) + USECS_PER_HOUR) % USECS_PER_HOUR;
	char		key[COUNTER_KEY_MAX];
	int			keylen = issuance_key(key, hour, tier, client, method);

	if (keylen < 0 || !store_takes_bookkeeping())
		return false;
	register_xact_callback();
	for (int i = 0; i < xact_issuance.n; i++)
	{
		if (xact_issuance.item[i].keylen == keylen &&
			memcmp(xact_issuance.item[i].key, key, keylen) == 0)
		{
			xact_issuance.item[i].count++;
			return true;
		}
	}
	if (xact_issuance.n == XACT_ISSUANCE_MAX)
		return false;
	xact_issuance.item[xact_issuance.n].keylen = keylen;
	xact_issuance.item[xact_issuance.n].count = 1;
	memcpy(xact_issuance.item[xact_issuance.n].key, key, keylen);
	xact_issuance.n++;
	return true;
}

/* The flush */

/*
 * Takes this database's pending entries out of the store into
 * flushed_items: issuance counts are moved (put back if the transaction
 * aborts), key uses copied (marked flushed when it commits).
 */
static void
collect_pending(Oid dbid)
{
	uint32		sets_per_partition = store->nsets / COUNTER_PARTITIONS;
	int			capacity = 64;

	flushed_items = MemoryContextAlloc(TopMemoryContext, capacity * sizeof(FlushedItem));
	flushed_count = 0;
	flushed_dbid = dbid;
	for (int p = 0; p < COUNTER_PARTITIONS; p++)
	{
		/* Room for a whole partition first: nothing is allocated under the lock. */
		int			need = flushed_count + (int) sets_per_partition * COUNTER_WAYS;

		if (need > capacity)
		{
			while (capacity < need)
				capacity *= 2;
			flushed_items = repalloc(flushed_items, capacity * sizeof(FlushedItem));
		}
		LWLockAcquire(&store->locks[p].lock, LW_EXCLUSIVE);
		for (uint32 s = p; s < store->nsets; s += COUNTER_PARTITIONS)
		{
			CounterEntry *set = &store->entries[s * COUNTER_WAYS];

			for (int w = 0; w < COUNTER_WAYS; w++)
			{
				CounterEntry *e = &set[w];
				FlushedItem *it;

				if (e->dbid != dbid || !entry_pending(e))
					continue;
				it = &flushed_items[flushed_count++];
				it->kind = (CounterKind) e->kind;
				it->keylen = e->keylen;
				memcpy(it->key, e->key, e->keylen);
				it->count = 0;
				it->used = 0;
				if (e->kind == COUNTER_ISSUANCE)
				{
					it->count = e->u.issuance.pending;
					e->u.issuance.pending = 0;
				}
				else
					it->used = e->u.use.used;
			}
		}
		LWLockRelease(&store->locks[p].lock);
	}
}

/* A row someone holds locked delays the flush, never blocks it for good. */
static void
set_flush_lock_timeout(void)
{
	(void) set_config_option("lock_timeout", "5s", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

static Datum
make_array(Datum *elems, int n, Oid type)
{
	int16		len;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &len, &byval, &align);
	return PointerGetDatum(construct_array(elems, n, type, len, byval, align));
}

static void
write_key_uses(void)
{
	static const char *query =
		"UPDATE oauth_rls.api_keys AS k SET last_used_at = u.t "
		"  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
		"                 pg_catalog.unnest($2::pg_catalog.timestamptz[])) AS u(id, t) "
		" WHERE k.key_id OPERATOR(pg_catalog.=) u.id "
		"   AND (k.last_used_at IS NULL OR k.last_used_at OPERATOR(pg_catalog.<) u.t)";
	Oid			argtypes[2] = {TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[2];
	Datum	   *ids = palloc(flushed_count * sizeof(Datum));
	Datum	   *times = palloc(flushed_count * sizeof(Datum));
	int			n = 0;
	int			rc;

	for (int i = 0; i < flushed_count; i++)
	{
		if (flushed_items[i].kind != COUNTER_KEY_USE)
			continue;
		ids[n] = PointerGetDatum(cstring_to_text_with_len(flushed_items[i].key,
														  flushed_items[i].keylen));
		times[n] = TimestampTzGetDatum(flushed_items[i].used);
		n++;
	}
	if (n == 0)
		return;
	args[0] = make_array(ids, n, TEXTOID);
	args[1] = make_array(times, n, TIMESTAMPTZOID);
	rc = SPI_execute_with_args(query, 2, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "writing API key last use failed: %s", SPI_result_code_string(rc));
}

static void
write_issuance(void)
{
	static const char *query =
		"INSERT INTO oauth_rls.token_issuance AS i (hour, client, tier, method, shard, tokens) "
		"SELECT u.h, u.c, u.t::oauth_rls.tier, u.m, -1, u.n "
		"  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.timestamptz[]), "
		"                 pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]), "
		"                 pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.int8[])) "
		"       AS u(h, c, t, m, n) "
		"ON CONFLICT ON CONSTRAINT token_issuance_pkey "
		"DO UPDATE SET tokens = i.tokens OPERATOR(pg_catalog.+) EXCLUDED.tokens";
	Oid			argtypes[5] = {TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	INT8ARRAYOID};
	Datum		args[5];
	Datum	   *hours = palloc(flushed_count * sizeof(Datum));
	Datum	   *clients = palloc(flushed_count * sizeof(Datum));
	Datum	   *tiers = palloc(flushed_count * sizeof(Datum));
	Datum	   *methods = palloc(flushed_count * sizeof(Datum));
	Datum	   *counts = palloc(flushed_count * sizeof(Datum));
	int			n = 0;
	int			rc;

	for (int i = 0; i < flushed_count; i++)
	{
		FlushedItem *it = &flushed_items[i];
		TimestampTz hour;
		uint16		clen;
		int			tier;

		if (it->kind != COUNTER_ISSUANCE)
			continue;
		memcpy(&hour, it->key, 8);
		tier = (unsigned char) it->key[8];
		memcpy(&clen, it->key + 9, 2);
		if (tier >= TIER_COUNT || ISSUANCE_KEY_HEADER + clen > it->keylen)
			continue;			/* cannot happen: keys are made by issuance_key */
		hours[n] = TimestampTzGetDatum(hour);
		clients[n] = PointerGetDatum(cstring_to_text_with_len(it->key + ISSUANCE_KEY_HEADER, clen));
		tiers[n] = CStringGetTextDatum(oauth_tier_labels[tier]);
		methods[n] = PointerGetDatum(cstring_to_text_with_len(it->key + ISSUANCE_KEY_HEADER + clen,
															  it->keylen - ISSUANCE_KEY_HEADER - clen));
		counts[n] = Int64GetDatum(it->count);
		n++;
	}
	if (n == 0)
		return;
	args[0] = make_array(hours, n, TIMESTAMPTZOID);
	args[1] = make_array(clients, n, TEXTOID);
	args[2] = make_array(tiers, n, TEXTOID);
	args[3] = make_array(methods, n, TEXTOID);
	args[4] = make_array(counts, n, INT8OID);
	rc = SPI_execute_with_args(query, 5, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing token issuance counts failed: %s", SPI_result_code_string(rc));
}

/* Whether this database has the extension's tables (created, not dropped). */
static bool
extension_tables_exist(void)
{
	Oid			nsp = get_namespace_oid(OAUTH_RLS_SCHEMA, true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("api_keys", nsp)) &&
		OidIsValid(get_relname_relid("token_issuance", nsp));
}

/* Forgets every entry of a database that can no longer take them. */
static void
purge_database(Oid dbid)
{
	for (int p = 0; p < COUNTER_PARTITIONS; p++)
	{
		LWLockAcquire(&store->locks[p].lock, LW_EXCLUSIVE);
		for (uint32 s = p; s < store->nsets; s += COUNTER_PARTITIONS)
			for (int w = 0; w < COUNTER_WAYS; w++)
				if (store->entries[s * COUNTER_WAYS + w].dbid == dbid)
					store->entries[s * COUNTER_WAYS + w].kind = COUNTER_FREE;
		LWLockRelease(&store->locks[p].lock);
	}
}

/*
 * Writes the current database's pending entries, in the current
 * transaction; returns how many entries it wrote.  What it takes out is put
 * back if the transaction aborts (counters_xact_callback).
 */
static int
flush_current_database(void)
{
	int			level;
	int			written;

	if (RecoveryInProgress())
		return 0;
	if (!extension_tables_exist())
	{
		purge_database(MyDatabaseId);
		return 0;
	}
	if (flushed_items != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the counters were already flushed in this transaction")));
	register_xact_callback();
	collect_pending(MyDatabaseId);
	written = flushed_count;
	if (written == 0)
	{
		/* Nothing taken: a later flush in this transaction may still run. */
		flushed_settle(true);
		return 0;
	}

	level = oauth_rls_spi_connect();
	set_flush_lock_timeout();
	write_key_uses();
	write_issuance();
	oauth_rls_spi_finish(level);
	pg_atomic_fetch_add_u64(&store->flushes, 1);
	return written;
}

/*
 * flush_counters() -> integer: writes this database's pending last uses and
 * issuance counts now (for pg_cron where no worker can run, and for tests).
 */
PG_FUNCTION_INFO_V1(oauth_rls_flush_counters);
Datum
oauth_rls_flush_counters(PG_FUNCTION_ARGS)
{
	counters_require("oauth_rls.flush_counters()");
	if (IsSubTransaction())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("oauth_rls.flush_counters() cannot run inside a subtransaction"),
				 errdetail("Rolling back the subtransaction would lose the counts it wrote.")));
	PG_RETURN_INT32(flush_current_database());
}

/*
 * counter_store() -> record: the store's size, use and losses, for
 * monitoring (see docs/rate-limits.md).
 */
PG_FUNCTION_INFO_V1(oauth_rls_counter_store);
Datum
oauth_rls_counter_store(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {false};
	int64		used = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!counters_available())
	{
		values[0] = CStringGetTextDatum("none");
		for (int i = 1; i < 8; i++)
			nulls[i] = true;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}
	for (int p = 0; p < COUNTER_PARTITIONS; p++)
	{
		LWLockAcquire(&store->locks[p].lock, LW_SHARED);
		for (uint32 s = p; s < store->nsets; s += COUNTER_PARTITIONS)
			for (int w = 0; w < COUNTER_WAYS; w++)
				used += store->entries[s * COUNTER_WAYS + w].kind != COUNTER_FREE;
		LWLockRelease(&store->locks[p].lock);
	}
	values[0] = CStringGetTextDatum(preloaded ? "preloaded" : "dsm_registry");
	values[1] = Int64GetDatum((int64) store->nsets * COUNTER_WAYS);
	values[2] = Int64GetDatum(used);
	values[3] = Int64GetDatum((int64) store_size(store->nsets));
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&store->evictions));
	values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&store->lost_issuances));
	values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&store->lost_key_uses));
	values[7] = Int64GetDatum((int64) pg_atomic_read_u64(&store->flushes));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Background workers */

static volatile sig_atomic_t got_sigterm = false;

static void
flush_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

static void
fill_worker(BackgroundWorker *w, const char *function, Oid dbid)
{
	memset(w, 0, sizeof(*w));
	/* The launcher too "connects", to no database (to be in pg_stat_activity). */
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	snprintf(w->bgw_library_name, BGW_MAXLEN, "oauth_rls");
	snprintf(w->bgw_function_name, BGW_MAXLEN, "%s", function);
	if (OidIsValid(dbid))
	{
		snprintf(w->bgw_name, BGW_MAXLEN, "oauth_rls counter flush for database %u", dbid);
		snprintf(w->bgw_type, BGW_MAXLEN, "oauth_rls counter flush");
	}
	else
	{
		snprintf(w->bgw_name, BGW_MAXLEN, "oauth_rls counter flush launcher");
		snprintf(w->bgw_type, BGW_MAXLEN, "oauth_rls counter flush launcher");
	}
	w->bgw_main_arg = ObjectIdGetDatum(dbid);
}

/* One database's flush worker: one transaction, then exit (0 when written). */
PGDLLEXPORT void oauth_rls_flush_database_main(Datum main_arg);
void
oauth_rls_flush_database_main(Datum main_arg)
{
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	if (!counters_available())
		proc_exit(1);
	pg_atomic_write_u32(&store->connected_db, MyDatabaseId);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "oauth_rls counter flush");
	(void) flush_current_database();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/* Databases with pending entries, at most max of them. */
static int
pending_databases(Oid *dbids, int max)
{
	int			n = 0;

	for (int p = 0; p < COUNTER_PARTITIONS && n < max; p++)
	{
		LWLockAcquire(&store->locks[p].lock, LW_SHARED);
		for (uint32 s = p; s < store->nsets && n < max; s += COUNTER_PARTITIONS)
			for (int w = 0; w < COUNTER_WAYS && n < max; w++)
			{
				CounterEntry *e = &store->entries[s * COUNTER_WAYS + w];
				bool		seen = false;

				if (!entry_pending(e))
					continue;
				for (int i = 0; i < n && !seen; i++)
					seen = dbids[i] == e->dbid;
				if (!seen)
					dbids[n++] = e->dbid;
			}
		LWLockRelease(&store->locks[p].lock);
	}
	return n;
}

/*
 * Runs one database's flush worker and waits for it; false if it could not
 * connect to the database (dropped since).
 */
static bool
flush_database(Oid dbid)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	fill_worker(&w, "oauth_rls_flush_database_main", dbid);
	w.bgw_restart_time = BGW_NEVER_RESTART;
	w.bgw_notify_pid = MyProcPid;
	pg_atomic_write_u32(&store->connected_db, InvalidOid);
	if (!RegisterDynamicBackgroundWorker(&w, &handle))
		return true;			/* no free slot: not this database's fault */
	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
		(void) WaitForBackgroundWorkerShutdown(handle);
	return pg_atomic_read_u32(&store->connected_db) == dbid;
}

static void
launcher_exit(int code, Datum arg)
{
	pg_atomic_write_u32(&store->launcher_pid, 0);
}

/* The launcher: every interval, a flush worker per database with pending entries. */
PGDLLEXPORT void oauth_rls_flush_main(Datum main_arg);
void
oauth_rls_flush_main(Datum main_arg)
{
	Oid			failing[FLUSH_MAX_DATABASES];
	int			failures[FLUSH_MAX_DATABASES] = {0};
	int			nfailing = 0;

	pqsignal(SIGTERM, flush_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	/* No database: shown in pg_stat_activity, never in DROP DATABASE's way. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	if (!counters_available())
		proc_exit(1);
	if (pg_atomic_read_u32(&store->launcher_pid) != 0 &&
		pg_atomic_read_u32(&store->launcher_pid) != (uint32) MyProcPid)
		proc_exit(0);			/* another launcher runs */
	pg_atomic_write_u32(&store->launcher_pid, (uint32) MyProcPid);
	before_shmem_exit(launcher_exit, (Datum) 0);

	while (!got_sigterm)
	{
		Oid			dbids[FLUSH_MAX_DATABASES];
		int			n;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 flush_interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (got_sigterm)
			break;
		n = pending_databases(dbids, FLUSH_MAX_DATABASES);
		for (int i = 0; i < n && !got_sigterm; i++)
		{
			bool		ok = flush_database(dbids[i]);
			int			slot = -1;

			for (int j = 0; j < nfailing; j++)
				if (failing[j] == dbids[i])
					slot = j;
			if (ok && slot >= 0)
				failures[slot] = 0;
			else if (!ok)
			{
				if (slot < 0 && nfailing < FLUSH_MAX_DATABASES)
				{
					slot = nfailing++;
					failing[slot] = dbids[i];
					failures[slot] = 0;
				}
				/* A dropped database: its entries can never be written. */
				if (slot >= 0 && ++failures[slot] >= FLUSH_MAX_FAILURES)
				{
					purge_database(dbids[i]);
					failures[slot] = 0;
				}
			}
		}
	}
	proc_exit(0);
}

/*
 * Whether a launcher runs (or was just asked to start): the store takes
 * bookkeeping only then, so that nothing waits for a flush that never
 * comes.  Preloaded, the postmaster starts it; otherwise (17+) the first
 * backend that needs it starts a dynamic one.
 */
static bool
launcher_ensure(void)
{
	static TimestampTz checked_at = 0;
	static bool running = false;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	BackgroundWorker w;
	uint64		requested;

	if (now == checked_at)
		return running;
	checked_at = now;
	if (pg_atomic_read_u32(&store->launcher_pid) != 0)
		return running = true;
	requested = pg_atomic_read_u64(&store->launcher_requested);
	if (preloaded || (requested != 0 && now - (TimestampTz) requested < 10 * USECS_PER_SEC))
		return running = preloaded || requested != 0;
	if (!pg_atomic_compare_exchange_u64(&store->launcher_requested, &requested, (uint64) now))
		return running = true;	/* another backend is starting it */
	fill_worker(&w, "oauth_rls_flush_main", InvalidOid);
	w.bgw_restart_time = BGW_NEVER_RESTART;
	running = RegisterDynamicBackgroundWorker(&w, NULL);
	if (!running)
		ereport(LOG,
				(errmsg("oauth_rls: could not start the counter flush worker"),
				 errhint("Raise max_worker_processes, or preload oauth_rls.")));
	return running;
}

void
counters_init(void)
{
	DefineCustomIntVariable("oauth_rls.counter_store_entries",
							"Entries of the shared-memory counter store (rate limits, key use, issuance).",
							"Rounded up to a power of two times 8; about 400 bytes each.",
							&counter_store_entries, 16384, COUNTER_MIN_ENTRIES, 1 << 22,
	/* Not preloaded (17+), it sizes the DSM segment when one is first made. */
							process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							0, NULL, NULL, NULL);
	/*
	 * SUSET: it only changes when a use or an issuance reaches its table,
	 * never whether it is counted, but a pooled API role should not move the
	 * bookkeeping's cost onto the backend it shares.
	 */
	DefineCustomBoolVariable("oauth_rls.counters_write_through",
							 "Write API key last use and token issuance counts to their tables at once.",
							 "On: as in 0.1.0, even where the counter store exists (no flush delay, a write per use).",
							 &write_through, false, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("oauth_rls.counters_flush_interval",
							"How often API key last use and issuance counts are written.",
							"A crash loses at most what was counted in one interval.",
							&flush_interval_ms, 10000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	preloaded = true;
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = counters_shmem_request;
#else
	counters_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = counters_shmem_startup;

	{
		BackgroundWorker w;

		fill_worker(&w, "oauth_rls_flush_main", InvalidOid);
		w.bgw_restart_time = 10;
		RegisterBackgroundWorker(&w);
	}
}
