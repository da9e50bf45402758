/*
 * api_keys.c
 *      API keys: _generate_api_key(), validate_api_key(), diagnose_api_key(),
 *      and the request's key for RLS: api_key_owner(), api_key_scopes(),
 *      api_key_id().
 *
 * The grammar and checksum live in api_key_format.c (pure C).  This file
 * adds what needs the server: OpenSSL's CSPRNG and SHA-256, the lookup in
 * oauth_rls.api_keys, and the per-backend cache of the request's key.
 *
 * Lookups read the table directly through its primary key, like the client
 * registry, so a policy can call api_key_owner() as anon without any right
 * on the table, and with the latest snapshot, so a revocation is seen as soon
 * as its invalidation is.  Nothing here ever puts the key, or any part of
 * the secret, into an error, a notice or a log line.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "optimizer/planner.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "api_key_format.h"
#include "api_keys.h"
#include "claims.h"
#include "counters.h"
#include "invalidation.h"

#define SHA256_LEN 32

/* last_used_at is refreshed at most this often per key. */
#define LAST_USED_INTERVAL_USECS USECS_PER_MINUTE

/* Why a key is not valid, in the order the checks are made. */
typedef enum KeyVerdict
{
	KEY_VALID = 0,
	KEY_MALFORMED,
	KEY_BAD_CHECKSUM,
	KEY_UNKNOWN,
	KEY_WRONG_SECRET,
	KEY_REVOKED,
	KEY_EXPIRED
} KeyVerdict;

/* What the stored digest was computed over (column digest_input). */
typedef enum DigestInput
{
	DIGEST_SECRET,				/* the secret after "sk_" */
	DIGEST_SK_SECRET,			/* "sk_" and the secret */
	DIGEST_KEY					/* the whole key */
} DigestInput;

/* One row of oauth_rls.api_keys, as far as validation needs it. */
typedef struct KeyRow
{
	char		key_id[API_KEY_FOREIGN_ID_MAXLEN + 1];
	pg_uuid_t	owner;
	char	   *client_id;		/* NULL when the key names no client */
	ArrayType  *scopes;
	unsigned char digest[SHA256_LEN];
	DigestInput digest_input;
	bool		imported;
	bool		revoked;
	bool		has_expiry;
	TimestampTz expires_at;
	bool		has_last_used;
	TimestampTz last_used_at;
} KeyRow;

/* Column numbers of oauth_rls.api_keys, resolved once per table generation. */
static struct
{
	uint64		generation;
	Oid			relid;
	Oid			pkey;			/* api_keys_pkey */
	AttrNumber	owner;
	AttrNumber	client_id;
	AttrNumber	scopes;
	AttrNumber	digest;
	AttrNumber	digest_input;
	AttrNumber	imported;
	AttrNumber	expires_at;
	AttrNumber	revoked_at;
	AttrNumber	last_used_at;
} columns = {0};

/* Whether any imported key exists: see any_imported_keys(). */
static struct
{
	uint64		generation;
	ParallelScope built;
	bool		answer;
} imported_cache = {0};

/*
 * Rows of oauth_rls.api_keys by key id, per backend, so that a key presented
 * again costs a hash probe instead of an index descent.  Like the client
 * registry's cache it is dropped whenever a change to the table commits
 * anywhere (invalidation.c), filled from reads with the latest snapshot, and
 * bounded by oauth_rls.api_key_cache_size.  Only rows that exist are kept;
 * whether a presented secret matches is decided on every call.
 */
typedef struct KeyCacheEntry
{
	char		key_id[API_KEY_FOREIGN_ID_MAXLEN + 1];	/* hash key */
	KeyRow		row;			/* client_id and scopes live in key_cache.cxt */
} KeyCacheEntry;

int			oauth_rls_api_key_cache_size = 10000;

static TableCache key_cache =
	TABLE_CACHE("oauth_rls API key rows", OAUTH_TABLE_API_KEYS, API_KEY_FOREIGN_ID_MAXLEN + 1,
				KeyCacheEntry, true);

/*
 * How many planner calls are under way in this backend.  The planner runs
 * stable functions such as api_key_owner() to estimate selectivity, and a
 * plan may never be executed (EXPLAIN, a prepared statement): the use of a
 * key is recorded only while nothing is being planned.
 */
static int	planning_depth = 0;
static planner_hook_type prev_planner_hook = NULL;

static PlannedStmt *
count_planning(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	PlannedStmt *result;

	planning_depth++;
	PG_TRY();
	{
		if (prev_planner_hook != NULL)
			result = prev_planner_hook(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		planning_depth--;
	}
	PG_END_TRY();
	return result;
}

void
api_keys_init(void)
{
	DefineCustomIntVariable("oauth_rls.api_key_cache_size",
							"Most API key rows each backend keeps cached.",
							"0 disables the cache; each row takes about 300 bytes.",
							&oauth_rls_api_key_cache_size, 10000, 0, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	prev_planner_hook = planner_hook;
	planner_hook = count_planning;
}

static Oid
api_keys_relid(void)
{
	Oid			relid = oauth_rls_table_oid(OAUTH_TABLE_API_KEYS);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table oauth_rls.api_keys does not exist"),
				 errhint("Is the oauth_rls extension installed in this database?")));
	return relid;
}

static AttrNumber
column(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of oauth_rls.api_keys does not exist", name),
				 errhint("The table must keep the columns the extension created.")));
	return attnum;
}

static Oid
index_oid(const char *name)
{
	Oid			indexid = oauth_rls_relation_oid(name);

	if (!OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("index oauth_rls.%s does not exist", name),
				 errhint("Is the oauth_rls extension installed in this database?")));
	return indexid;
}

static void
resolve_columns(Oid relid)
{
	uint64		generation = oauth_rls_table_generation[OAUTH_TABLE_API_KEYS];

	if (columns.generation == generation && columns.relid == relid)
		return;
	columns.pkey = index_oid("api_keys_pkey");
	columns.owner = column(relid, "owner");
	columns.client_id = column(relid, "client_id");
	columns.scopes = column(relid, "scopes");
	columns.digest = column(relid, "digest");
	columns.digest_input = column(relid, "digest_input");
	columns.imported = column(relid, "imported");
	columns.expires_at = column(relid, "expires_at");
	columns.revoked_at = column(relid, "revoked_at");
	columns.last_used_at = column(relid, "last_used_at");
	columns.relid = relid;
	columns.generation = generation;
}

static DigestInput
digest_input_from_text(text *t)
{
	char	   *s = text_to_cstring(t);

	if (strcmp(s, "sk_secret") == 0)
		return DIGEST_SK_SECRET;
	if (strcmp(s, "key") == 0)
		return DIGEST_KEY;
	if (strcmp(s, "secret") == 0)
		return DIGEST_SECRET;
	/* The CHECK constraint forbids anything else; match nothing. */
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("oauth_rls.api_keys.digest_input holds an unknown value")));
	pg_unreachable();
}

/* Copies the fields of one heap tuple into *row (in CurrentMemoryContext). */
static void
fill_row(HeapTuple tuple, TupleDesc desc, KeyRow *row)
{
	bool		isnull;
	Datum		d;
	bytea	   *digest;

	d = heap_getattr(tuple, columns.owner, desc, &isnull);
	memcpy(&row->owner, DatumGetUUIDP(d), sizeof(pg_uuid_t));

	d = heap_getattr(tuple, columns.client_id, desc, &isnull);
	row->client_id = isnull ? NULL : TextDatumGetCString(d);

	d = heap_getattr(tuple, columns.scopes, desc, &isnull);
	row->scopes = isnull ? construct_empty_array(TEXTOID) : DatumGetArrayTypePCopy(d);

	/* A digest of the wrong length (impossible by CHECK) never matches. */
	d = heap_getattr(tuple, columns.digest, desc, &isnull);
	memset(row->digest, 0, SHA256_LEN);
	if (!isnull)
	{
		digest = DatumGetByteaPP(d);
		if (VARSIZE_ANY_EXHDR(digest) == SHA256_LEN)
			memcpy(row->digest, VARDATA_ANY(digest), SHA256_LEN);
	}

	d = heap_getattr(tuple, columns.digest_input, desc, &isnull);
	row->digest_input = isnull ? DIGEST_SECRET : digest_input_from_text(DatumGetTextPP(d));

	d = heap_getattr(tuple, columns.imported, desc, &isnull);
	row->imported = !isnull && DatumGetBool(d);

	d = heap_getattr(tuple, columns.revoked_at, desc, &isnull);
	row->revoked = !isnull;

	d = heap_getattr(tuple, columns.expires_at, desc, &isnull);
	row->has_expiry = !isnull;
	row->expires_at = isnull ? 0 : DatumGetTimestampTz(d);

	d = heap_getattr(tuple, columns.last_used_at, desc, &isnull);
	row->has_last_used = !isnull;
	row->last_used_at = isnull ? 0 : DatumGetTimestampTz(d);
}

/* Reads one key through api_keys_pkey; false when there is no such id. */
static bool
read_key_row(const char *id, size_t id_len, KeyRow *row)
{
	Oid			relid = api_keys_relid();
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	/* Opening the table processes pending invalidations first. */
	rel = table_open(relid, AccessShareLock);
	resolve_columns(relid);
	snapshot = oauth_rls_register_read_snapshot();
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ,
				PointerGetDatum(cstring_to_text_with_len(id, (int) id_len)));
	scan = systable_beginscan(rel, columns.pkey, true, snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		memcpy(row->key_id, id, id_len);
		row->key_id[id_len] = '\0';
		fill_row(tuple, RelationGetDescr(rel), row);
		found = true;
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/* The cached entry for a key id, or NULL. */
static KeyCacheEntry *
key_cache_find(const char *key_id)
{
	if (!table_cache_valid(&key_cache))
		return NULL;
	return (KeyCacheEntry *) hash_search(key_cache.htab, key_id, HASH_FIND, NULL);
}

/*
 * One row by key id, from the cache or the table.  *row's pointers stay
 * valid until the next lookup.
 */
static bool
lookup_key_row(const char *id, size_t id_len, KeyRow *row)
{
	char		key_id[API_KEY_FOREIGN_ID_MAXLEN + 1];
	KeyCacheEntry *entry;
	HTAB	   *htab;
	MemoryContext oldcxt;
	bool		found;

	memcpy(key_id, id, id_len);
	key_id[id_len] = '\0';

	if (oauth_rls_api_key_cache_size > 0)
	{
		entry = (KeyCacheEntry *) hash_search(table_cache_for_lookup(&key_cache),
											  key_id, HASH_FIND, NULL);
		if (entry != NULL)
		{
			*row = entry->row;
			return true;
		}
	}

	found = read_key_row(id, id_len, row);

	/* Invalidations processed during the read make the cache stale: skip it. */
	if (found && oauth_rls_api_key_cache_size > 0 &&
		(htab = table_cache_for_insert(&key_cache, oauth_rls_api_key_cache_size)) != NULL)
	{
		entry = (KeyCacheEntry *) hash_search(htab, key_id, HASH_ENTER, NULL);
		oldcxt = MemoryContextSwitchTo(key_cache.cxt);
		entry->row = *row;
		entry->row.client_id = row->client_id ? pstrdup(row->client_id) : NULL;
		entry->row.scopes = DatumGetArrayTypePCopy(PointerGetDatum(row->scopes));
		MemoryContextSwitchTo(oldcxt);
	}
	return found;
}

/* After a refresh attempt: last_used_at is now recent, wherever it was set. */
static void
key_cache_note_use(const char *key_id, TimestampTz now)
{
	KeyCacheEntry *entry = key_cache_find(key_id);

	if (entry != NULL)
	{
		entry->row.has_last_used = true;
		entry->row.last_used_at = now;
	}
}

/*
 * Whether the table holds any imported key.  Without one, a string that is
 * not a native key cannot be valid, so it is rejected without a lookup: a
 * truncated or garbled key never reaches the table.  Probes the partial
 * index api_keys_imported_idx once per table generation.
 */
static bool
any_imported_keys(void)
{
	uint64		generation = oauth_rls_table_generation[OAUTH_TABLE_API_KEYS];
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan;
	bool		answer;

	if (imported_cache.generation == generation &&
		parallel_scope_holds(&imported_cache.built))
		return imported_cache.answer;

	rel = table_open(api_keys_relid(), AccessShareLock);
	snapshot = oauth_rls_register_read_snapshot();
	scan = systable_beginscan(rel, index_oid("api_keys_imported_idx"), true, snapshot, 0, NULL);
	answer = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	/* Generation read before the probe: a change it processed re-probes. */
	imported_cache.generation = generation;
	parallel_scope_record(&imported_cache.built);
	imported_cache.answer = answer;
	return answer;
}

static void
sha256(const char *data, size_t len, unsigned char *out)
{
	unsigned int outlen = 0;

	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != SHA256_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("OpenSSL could not compute a SHA-256 digest")));
}

/* The bytes the stored digest covers, within the presented key. */
static void
hashed_part(const char *key, size_t len, const ApiKeyParts *parts, DigestInput input,
			const char **start, size_t *n)
{
	switch (input)
	{
		case DIGEST_KEY:
			*start = key;
			*n = len;
			return;
		case DIGEST_SK_SECRET:
			*start = key + parts->secret_offset - API_KEY_PREFIX_LEN;
			*n = parts->secret_len + API_KEY_PREFIX_LEN;
			return;
		case DIGEST_SECRET:
			break;
	}
	*start = key + parts->secret_offset;
	*n = parts->secret_len;
}

/*
 * Checks a presented key.  *status receives the grammar's verdict (for the
 * diagnostic); *row is filled when the id was found.  The secret's digest is
 * always computed and compared in constant time, found or not, so an unknown
 * id and a wrong secret take the same path up to the answer.
 */
static KeyVerdict
check_key(const char *key, size_t len, KeyRow *row, ApiKeyStatus *status)
{
	static const unsigned char no_digest[SHA256_LEN] = {0};
	ApiKeyParts parts;
	unsigned char digest[SHA256_LEN];
	const char *start;
	size_t		n;
	bool		found;
	bool		match;

	/* A revocation committed meanwhile is seen at the next statement. */
	oauth_rls_accept_invalidations();
	*status = api_key_parse(key, len, &parts);
	if (*status == API_KEY_BAD_CHECKSUM)
		return KEY_BAD_CHECKSUM;
	if (*status != API_KEY_OK)
		return KEY_MALFORMED;
	if (parts.kind == API_KEY_FOREIGN && !any_imported_keys())
	{
		*status = parts.native_status;
		return KEY_MALFORMED;
	}

	found = lookup_key_row(key + parts.id_offset, parts.id_len, row);

	/* A string that is no native key only ever matches an imported key. */
	if (found && parts.kind == API_KEY_FOREIGN && !row->imported)
	{
		*status = parts.native_status;
		return KEY_MALFORMED;
	}

	hashed_part(key, len, &parts, found ? row->digest_input : DIGEST_SECRET, &start, &n);
	sha256(start, n, digest);
	match = CRYPTO_memcmp(digest, found ? row->digest : no_digest, SHA256_LEN) == 0;
	explicit_bzero(digest, sizeof(digest));

	if (!found)
		return KEY_UNKNOWN;
	if (!match)
		return KEY_WRONG_SECRET;
	if (row->revoked)
		return KEY_REVOKED;
	if (row->has_expiry && row->expires_at <= GetCurrentTransactionStartTimestamp())
		return KEY_EXPIRED;
	return KEY_VALID;
}

/*
 * Whether this transaction may record a key's use now: never on a standby,
 * in a database made read-only by default_transaction_read_only (Supabase
 * does so when the disk is full), in a parallel operation (writes are
 * impossible there), under SERIALIZABLE, where the extra read-write
 * dependency could make the caller's own transaction fail at commit, nor
 * while a query is being planned (the plan may never run: EXPLAIN).  A
 * transaction that is read-only by its own choice (PostgREST runs every GET
 * that way) still records it: see refresh_last_used().
 */
static bool
can_record_use(void)
{
	return planning_depth == 0 && !RecoveryInProgress() && !DefaultXactReadOnly &&
		!IsInParallelMode() && !IsolationIsSerializable();
}

/*
 * The UPDATE behind refresh_last_used(), run as the table's owner (a policy
 * calls us as anon) with a fixed search_path and every operator qualified.
 * FOR UPDATE SKIP LOCKED makes a busy row a no-op instead of a wait; the
 * last_used_at condition makes the refresh happen at most once a minute
 * across all backends.  Returns whether a row was updated.
 */
static bool
run_last_used_update(Oid relid, const char *key_id, TimestampTz now)
{
	static const char *query =
		"UPDATE oauth_rls.api_keys SET last_used_at = $2 "
		" WHERE key_id OPERATOR(pg_catalog.=) $1 "
		"   AND key_id OPERATOR(pg_catalog.=) ("
		"       SELECT l.key_id FROM oauth_rls.api_keys l "
		"        WHERE l.key_id OPERATOR(pg_catalog.=) $1 "
		"          AND (l.last_used_at IS NULL OR l.last_used_at OPERATOR(pg_catalog.<) $3) "
		"          FOR UPDATE SKIP LOCKED)";
	/* Prepared once per backend; the plan cache replans after DDL. */
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[3];
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int			rc;

	args[0] = CStringGetTextDatum(key_id);
	args[1] = TimestampTzGetDatum(now);
	args[2] = TimestampTzGetDatum(now - LAST_USED_INTERVAL_USECS);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(oauth_rls_relation_owner(relid),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = oauth_rls_spi_connect();
	if (plan == NULL)
	{
		SPIPlanPtr	fresh = SPI_prepare(query, 3, argtypes);

		if (fresh == NULL || SPI_keepplan(fresh) != 0)
			elog(ERROR, "could not prepare the last_used_at update: %s",
				 SPI_result_code_string(SPI_result));
		plan = fresh;
	}
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "updating last_used_at failed: %s", SPI_result_code_string(rc));
	rc = (int) SPI_processed;
	oauth_rls_spi_finish(save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return rc > 0;
}

/*
 * A transaction whose only write is a last_used_at refresh (a GET through
 * PostgREST, typically) commits asynchronously: losing the last few
 * bookkeeping updates in a crash is harmless, and waiting for a WAL flush on
 * every key's first request of the minute is not.  The transaction is
 * eligible when it had no transaction id before the refresh and wrote no WAL
 * after it; any write of its own, before or after, keeps the caller's
 * synchronous_commit.
 */
static struct
{
	bool		registered;		/* xact callback installed */
	bool		pending;		/* only our refreshes wrote, up to after_lsn */
	XLogRecPtr	after_lsn;		/* XactLastRecEnd after our last refresh */
	bool		lowered;		/* synchronous_commit changed for this commit */
	int			saved;			/* its value to put back */
} bookkeeping = {0};

static void
bookkeeping_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (bookkeeping.pending && XactLastRecEnd == bookkeeping.after_lsn &&
				synchronous_commit > SYNCHRONOUS_COMMIT_OFF)
			{
				bookkeeping.saved = synchronous_commit;
				bookkeeping.lowered = true;
				synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
				elog(DEBUG1, "oauth_rls: transaction only refreshed last_used_at, committing asynchronously");
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (bookkeeping.lowered)
				synchronous_commit = bookkeeping.saved;
			bookkeeping.lowered = false;
			bookkeeping.pending = false;
			break;
		default:
			break;
	}
}

/* Called around a refresh that updated a row: see bookkeeping above. */
static bool
bookkeeping_eligible(void)
{
	return !TransactionIdIsValid(GetTopTransactionIdIfAny()) ||
		(bookkeeping.pending && XactLastRecEnd == bookkeeping.after_lsn);
}

static void
bookkeeping_record(bool eligible)
{
	if (!bookkeeping.registered)
	{
		RegisterXactCallback(bookkeeping_xact_callback, NULL);
		bookkeeping.registered = true;
	}
	bookkeeping.pending = eligible;
	bookkeeping.after_lsn = XactLastRecEnd;
}

typedef enum RefreshResult
{
	REFRESH_NOT_ATTEMPTED,		/* not possible here, or it failed */
	REFRESH_DONE,				/* this transaction set last_used_at */
	REFRESH_NOT_NEEDED			/* recent enough, or someone holds the row */
} RefreshResult;

typedef struct RefreshArgs
{
	Oid			relid;
	const char *key_id;
	TimestampTz now;
	RefreshResult result;
} RefreshArgs;

static void
refresh_in_subtransaction(void *arg)
{
	RefreshArgs *args = (RefreshArgs *) arg;

	/*
	 * The bookkeeping write is the extension's, not the caller's: like hint
	 * bits, it happens even in a transaction the client opened READ ONLY, on
	 * a primary only (can_record_use).  Ending the subtransaction, by commit
	 * or abort, restores the read-only flag.
	 */
	XactReadOnly = false;
	/* A table-level conflict (VACUUM FULL, ALTER...) skips, never waits. */
	if (ConditionalLockRelationOid(args->relid, RowExclusiveLock))
		args->result = run_last_used_update(args->relid, args->key_id, args->now)
			? REFRESH_DONE : REFRESH_NOT_NEEDED;
}

/*
 * Records a key's use, if possible, without ever waiting for a lock and
 * without ever failing the caller: the work runs in a subtransaction whose
 * errors are swallowed (except a cancel, which is passed on).
 */
static RefreshResult
refresh_last_used(const char *key_id, TimestampTz now)
{
	RefreshArgs args;
	ErrorData  *edata;
	bool		eligible;

	if (!can_record_use())
		return REFRESH_NOT_ATTEMPTED;
	args.relid = api_keys_relid();
	args.key_id = key_id;
	args.now = now;
	args.result = REFRESH_NOT_ATTEMPTED;
	eligible = bookkeeping_eligible();

	edata = oauth_rls_try_in_subtransaction(refresh_in_subtransaction, &args);
	if (edata != NULL)
	{
		ereport(DEBUG1,
				(errmsg_internal("oauth_rls: last use of API key \"%s\" not recorded: %s",
								 key_id, edata->message)));
		FreeErrorData(edata);
		args.result = REFRESH_NOT_ATTEMPTED;
	}
	if (args.result == REFRESH_DONE)
		bookkeeping_record(eligible);
	return args.result;
}

static bool
last_use_is_recent(bool has_last_used, TimestampTz last_used, TimestampTz now)
{
	return has_last_used && now - last_used < LAST_USED_INTERVAL_USECS;
}

/*
 * Fills buf with n base62 characters from OpenSSL's CSPRNG, by rejection
 * sampling (api_key_base62_from_random), so each is uniform.
 */
static void
random_base62(char *buf, size_t n)
{
	unsigned char random[64];
	size_t		filled = 0;

	while (filled < n)
	{
		if (RAND_bytes(random, sizeof(random)) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("OpenSSL could not generate random bytes for an API key")));
		filled += api_key_base62_from_random(random, sizeof(random), buf + filled, n - filled);
	}
	explicit_bzero(random, sizeof(random));
}

/*
 * _generate_api_key(OUT key_id text, OUT api_key text, OUT digest bytea):
 * fresh key material.  The caller stores key_id and digest and hands the key
 * to the user once.
 */
PG_FUNCTION_INFO_V1(oauth_rls_generate_api_key);
Datum
oauth_rls_generate_api_key(PG_FUNCTION_ARGS)
{
	char		id[API_KEY_ID_LEN];
	char		random[API_KEY_RANDOM_LEN];
	char		key[API_KEY_LEN + 1];
	unsigned char digest[SHA256_LEN];
	bytea	   *digest_bytea;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	const size_t secret_offset = API_KEY_LEN - API_KEY_SECRET_LEN;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	random_base62(id, API_KEY_ID_LEN);
	random_base62(random, API_KEY_RANDOM_LEN);
	if (!api_key_assemble(id, random, key, sizeof(key)))
		elog(ERROR, "could not assemble an API key");
	sha256(key + secret_offset, API_KEY_SECRET_LEN, digest);

	digest_bytea = (bytea *) palloc(VARHDRSZ + SHA256_LEN);
	SET_VARSIZE(digest_bytea, VARHDRSZ + SHA256_LEN);
	memcpy(VARDATA(digest_bytea), digest, SHA256_LEN);

	values[0] = PointerGetDatum(cstring_to_text_with_len(id, API_KEY_ID_LEN));
	values[1] = PointerGetDatum(cstring_to_text_with_len(key, API_KEY_LEN));
	values[2] = PointerGetDatum(digest_bytea);
	explicit_bzero(random, sizeof(random));
	explicit_bzero(key, sizeof(key));

	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* _is_valid_key_id(text) -> boolean: the key id grammar, for CHECK and import. */
PG_FUNCTION_INFO_V1(oauth_rls_is_valid_key_id);
Datum
oauth_rls_is_valid_key_id(PG_FUNCTION_ARGS)
{
	text	   *id = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(api_key_id_is_valid(VARDATA_ANY(id), VARSIZE_ANY_EXHDR(id)));
}

/*
 * validate_api_key(key text) -> table (key_id, owner, scopes, client_id):
 * one row for a valid key, none otherwise.  Whatever is wrong with the key,
 * the answer is the same empty result: no error, no notice.
 */
PG_FUNCTION_INFO_V1(oauth_rls_validate_api_key);
Datum
oauth_rls_validate_api_key(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KeyRow		row;
	ApiKeyStatus status;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (check_key(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), &row, &status) != KEY_VALID)
		return (Datum) 0;

	/*
	 * The answer is stored (copied) first: row.client_id and row.scopes may
	 * point into the key cache, which anything run by the refresh's UPDATE
	 * (a trigger, a policy) can empty by looking up other keys.
	 */
	values[0] = CStringGetTextDatum(row.key_id);
	values[1] = UUIDPGetDatum(&row.owner);
	values[2] = PointerGetDatum(row.scopes);
	if (row.client_id != NULL)
		values[3] = CStringGetTextDatum(row.client_id);
	else
		nulls[3] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	if (planning_depth == 0 && counters_note_key_use(row.key_id, now))
		return (Datum) 0;		/* last_used_at is written by the counter flush */
	if (!last_use_is_recent(row.has_last_used, row.last_used_at, now) &&
		refresh_last_used(row.key_id, now) != REFRESH_NOT_ATTEMPTED)
		key_cache_note_use(row.key_id, now);
	return (Datum) 0;
}

/*
 * diagnose_api_key(key text) -> text: why a key is invalid, for
 * administrators ('valid' when it is not).  Never contains the key.
 */
PG_FUNCTION_INFO_V1(oauth_rls_diagnose_api_key);
Datum
oauth_rls_diagnose_api_key(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	KeyRow		row;
	ApiKeyStatus status;
	const char *answer = NULL;

	switch (check_key(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), &row, &status))
	{
		case KEY_VALID:
			answer = "valid";
			break;
		case KEY_MALFORMED:
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("malformed: %s",
													  api_key_status_message(status))));
		case KEY_BAD_CHECKSUM:
			answer = "bad checksum: the key was mistyped or altered";
			break;
		case KEY_UNKNOWN:
			answer = "unknown key id";
			break;
		case KEY_WRONG_SECRET:
			answer = "wrong secret";
			break;
		case KEY_REVOKED:
			answer = "revoked";
			break;
		case KEY_EXPIRED:
			answer = "expired";
			break;
	}
	PG_RETURN_TEXT_P(cstring_to_text(answer));
}

/*
 * The request's key: header x-api-key of request.headers, validated once
 * per change of the request settings or of the table, and kept while the
 * header text stays the same (a pooled backend serving the same key request
 * after request does one comparison).  Expiry is re-checked on every use,
 * against the transaction's start time, like now().
 */
typedef struct RequestKey
{
	bool		loaded;
	uint64		request_generation;
	uint64		keys_generation;
	ParallelScope built;
	uint64		serial;			/* changes whenever the answer changes */
	MemoryContext cxt;			/* holds key, client_id and scopes */
	char	   *key;			/* the header value validated; NULL: none */
	int			key_len;
	bool		valid;
	KeyRow		row;
	TimestampTz refresh_tried_at;	/* transaction start of the last attempt */
} RequestKey;

static RequestKey request = {0};

/* The x-api-key header as a string, or false when absent or not a string. */
static bool
header_api_key(const char **value, int *len)
{
	const char *headers = claims_request_headers();
	Jsonb	   *jb;
	JsonbValue	buf;
	JsonbValue *v;

	/* PostgREST lower-cases header names; no such text, no such header. */
	if (headers == NULL || strstr(headers, "x-api-key") == NULL)
		return false;
	jb = claims_parse_json(headers);
	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return false;
	v = getKeyJsonValueFromContainer(&jb->root, "x-api-key", strlen("x-api-key"), &buf);
	if (v == NULL || v->type != jbvString)
		return false;
	*value = v->val.string.val;
	*len = v->val.string.len;
	return true;
}

/*
 * Whether the loaded answer holds for this header: same key text (or still
 * none), same table contents.  A pooled backend serving request after
 * request with one key then does one comparison per request, instead of a
 * SHA-256 and a lookup.
 */
static bool
request_key_unchanged(bool present, const char *value, int len, uint64 keys_generation)
{
	return request.loaded && request.keys_generation == keys_generation &&
		parallel_scope_holds(&request.built) &&
		present == (request.key != NULL) &&
		(!present || (request.key_len == len && memcmp(request.key, value, len) == 0));
}

static void
load_request_key(bool present, const char *value, int len)
{
	KeyRow		row;
	ApiKeyStatus status;
	bool		valid;
	MemoryContext oldcxt;

	valid = present && check_key(value, len, &row, &status) == KEY_VALID;

	if (request.cxt == NULL)
		request.cxt = AllocSetContextCreate(TopMemoryContext, "oauth_rls API key",
											ALLOCSET_SMALL_SIZES);
	MemoryContextReset(request.cxt);
	request.key = NULL;
	request.valid = false;
	oldcxt = MemoryContextSwitchTo(request.cxt);
	if (present && len <= API_KEY_MAXLEN)
	{
		request.key = pnstrdup(value, len);
		request.key_len = len;
	}
	if (valid)
	{
		request.row = row;
		request.row.client_id = row.client_id ? pstrdup(row.client_id) : NULL;
		request.row.scopes = DatumGetArrayTypePCopy(PointerGetDatum(row.scopes));
		request.valid = true;
	}
	MemoryContextSwitchTo(oldcxt);
	request.serial++;
}

static void
maybe_record_request_use(void)
{
	static uint64 noted_serial = 0;
	static TimestampTz noted_at = 0;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	/* With the counter store: once per key and transaction, no write. */
	if (noted_serial == request.serial && noted_at == now)
		return;
	if (planning_depth == 0 && counters_note_key_use(request.row.key_id, now))
	{
		noted_serial = request.serial;
		noted_at = now;
		return;
	}

	if (last_use_is_recent(request.row.has_last_used, request.row.last_used_at, now) ||
		request.refresh_tried_at == now || !can_record_use())
		return;
	request.refresh_tried_at = now;
	if (refresh_last_used(request.row.key_id, now) != REFRESH_NOT_ATTEMPTED)
	{
		request.row.has_last_used = true;
		request.row.last_used_at = now;
		key_cache_note_use(request.row.key_id, now);
	}
}

static const RequestKey *
request_key(void)
{
	uint64		keys_generation;

	/* A revocation committed meanwhile is seen at the next statement. */
	oauth_rls_accept_invalidations();
	keys_generation = oauth_rls_table_generation[OAUTH_TABLE_API_KEYS];
	if (!request.loaded ||
		request.request_generation != oauth_rls_request_generation ||
		request.keys_generation != keys_generation ||
		!parallel_scope_holds(&request.built))
	{
		uint64		request_generation = oauth_rls_request_generation;
		const char *value = NULL;
		int			len = 0;
		bool		present = header_api_key(&value, &len);

		if (!request_key_unchanged(present, value, len, keys_generation))
		{
			/* Mark stale first: an error while loading leaves no half state. */
			request.loaded = false;
			load_request_key(present, value, len);
		}
		/* Generations read before the load: a change it processed reloads. */
		request.request_generation = request_generation;
		request.keys_generation = keys_generation;
		parallel_scope_record(&request.built);
		request.loaded = true;
	}
	if (request.valid && request.row.has_expiry &&
		request.row.expires_at <= GetCurrentTransactionStartTimestamp())
	{
		request.valid = false;
		request.serial++;
	}
	if (request.valid)
		maybe_record_request_use();
	return &request;
}

bool
api_key_request_valid(void)
{
	return request_key()->valid;
}

const char *
api_key_request_client_id(void)
{
	const RequestKey *rk = request_key();

	return rk->valid ? rk->row.client_id : NULL;
}

const char *
api_key_request_key_id(pg_uuid_t *owner)
{
	const RequestKey *rk = request_key();

	if (!rk->valid)
		return NULL;
	*owner = rk->row.owner;
	return rk->row.key_id;
}

/*
 * Per call site result cache in fn_extra, keyed on the request key's serial:
 * a by-reference result is copied into fn_mcxt once per answer.  Two copies
 * are kept, the current answer's and the one before: a caller may still hold
 * the previous row's result while this row's is made (as with a result in a
 * per-tuple context), never an older one.  fn_mcxt can live for a whole
 * transaction (PL/pgSQL's simple expressions), so older copies are freed: a
 * loop switching keys keeps two copies per call site, not one per switch.
 */
typedef struct KeyCallSite
{
	bool		set;
	uint64		serial;
	bool		isnull;
	Datum		value;
	void	   *copies[2];		/* by-reference results, in fn_mcxt */
	int			newest;			/* index of the current answer's copy */
} KeyCallSite;

/* Copies a result into the call site's older slot, freeing what it held. */
static Datum
call_site_keep(FunctionCallInfo fcinfo, KeyCallSite *site, const void *data, Size size)
{
	int			slot = 1 - site->newest;

	if (site->copies[slot] != NULL)
		pfree(site->copies[slot]);
	site->copies[slot] = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, size);
	memcpy(site->copies[slot], data, size);
	site->newest = slot;
	return PointerGetDatum(site->copies[slot]);
}

typedef enum KeyField
{
	FIELD_OWNER,
	FIELD_SCOPES,
	FIELD_KEY_ID
} KeyField;

static Datum
request_key_field(FunctionCallInfo fcinfo, KeyField field)
{
	const RequestKey *rk = request_key();
	KeyCallSite *site = (KeyCallSite *) fcinfo->flinfo->fn_extra;

	if (site == NULL)
		site = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(KeyCallSite));

	if (!site->set || site->serial != rk->serial)
	{
		site->isnull = !rk->valid;
		site->value = (Datum) 0;
		if (rk->valid)
		{
			switch (field)
			{
				case FIELD_OWNER:
					site->value = call_site_keep(fcinfo, site, &rk->row.owner, sizeof(pg_uuid_t));
					break;
				case FIELD_SCOPES:
					site->value = call_site_keep(fcinfo, site, rk->row.scopes,
												 VARSIZE(rk->row.scopes));
					break;
				case FIELD_KEY_ID:
					{
						text	   *id = cstring_to_text(rk->row.key_id);

						site->value = call_site_keep(fcinfo, site, id, VARSIZE(id));
						pfree(id);
					}
					break;
			}
		}
		site->serial = rk->serial;
		site->set = true;
	}
	if (site->isnull)
		PG_RETURN_NULL();
	return site->value;
}

/* api_key_owner() -> uuid: owner of the request's valid key, else NULL. */
PG_FUNCTION_INFO_V1(oauth_rls_api_key_owner);
Datum
oauth_rls_api_key_owner(PG_FUNCTION_ARGS)
{
	return request_key_field(fcinfo, FIELD_OWNER);
}

/* api_key_scopes() -> text[]: scopes of the request's valid key, else NULL. */
PG_FUNCTION_INFO_V1(oauth_rls_api_key_scopes);
Datum
oauth_rls_api_key_scopes(PG_FUNCTION_ARGS)
{
	return request_key_field(fcinfo, FIELD_SCOPES);
}

/* api_key_id() -> text: id of the request's valid key, else NULL. */
PG_FUNCTION_INFO_V1(oauth_rls_api_key_id);
Datum
oauth_rls_api_key_id(PG_FUNCTION_ARGS)
{
	return request_key_field(fcinfo, FIELD_KEY_ID);
}
