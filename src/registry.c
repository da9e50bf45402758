/*
 * registry.c
 *      Client tiers: current_tier(), tier_of(), is_oauth(), is_first_party().
 *
 * The request's client is its client_id claim, else the OAuth client of its
 * auth.sessions row (auth_session.c): a token Auth re-issued without
 * client_id is still that client's.
 *
 * Tiers are looked up in oauth_rls.clients through its primary key and kept
 * in a per-backend hash table (negative answers too), dropped whenever a
 * registry change commits anywhere (see invalidation.c).  The lookup reads
 * the table directly, so anon and authenticated need no right on it, and
 * with the latest snapshot, so an answer cached after an invalidation was
 * processed always includes the change that caused it.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "api_keys.h"
#include "auth_session.h"
#include "claims.h"
#include "claims_parse.h"
#include "invalidation.h"
#include "registry.h"

/* A registry hash table grows only with distinct client ids seen. */
#define CLIENT_CACHE_MAX_ENTRIES 10000

typedef struct ClientEntry
{
	char		client_id[CLIENT_ID_MAXLEN + 1];	/* hash key */
	bool		registered;
	OAuthTier	tier;
} ClientEntry;

static TableCache client_cache =
	TABLE_CACHE("oauth_rls client tiers", OAUTH_TABLE_CLIENTS, CLIENT_ID_MAXLEN + 1,
				ClientEntry, true);

/*
 * The request's tier, for one statement at most (the cache epoch): every
 * input moves the epoch when it changes (the settings, the registry, the API
 * keys), so per row the answer costs the epoch's comparison, and for the
 * cases below one more test each.
 */
static struct
{
	uint64		epoch;			/* 0: nothing cached */
	bool		plain;			/* none of the three below: the epoch decides */
	bool		per_command;	/* it depends on auth.sessions: this command only */
	CommandId	command_id;
	bool		rare;			/* one of the two below */
	bool		parallel;		/* built in a parallel operation: only inside it */
	bool		via_api_key;	/* the client came from the request's API key */
	OAuthTier	tier;
	Datum		label;			/* its oauth_rls.tier label; 0 until asked */
} current_tier_cache = {0};

/*
 * Finds a client's row in oauth_rls.clients through clients_pkey and hands it
 * to fn while the table is open and the snapshot registered (so toasted
 * values can still be fetched).  Returns false when there is no such row.
 */
bool
registry_read_row(const char *client_id, RegistryRowCallback fn, void *arg)
{
	Oid			relid = oauth_rls_table_oid(OAUTH_TABLE_CLIENTS);
	Oid			indexid = oauth_rls_relation_oid("clients_pkey");
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("client registry oauth_rls.clients does not exist"),
				 errhint("Is the oauth_rls extension installed in this database?")));

	/* Opening the table processes pending invalidations first. */
	rel = table_open(relid, AccessShareLock);
	snapshot = oauth_rls_register_read_snapshot();

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(client_id));
	scan = systable_beginscan(rel, indexid, true, snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		fn(tuple, RelationGetDescr(rel), arg);
		found = true;
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

typedef struct TierRead
{
	bool		found;
	OAuthTier	tier;
} TierRead;

static void
read_tier_column(HeapTuple tuple, TupleDesc desc, void *arg)
{
	TierRead   *out = (TierRead *) arg;
	AttrNumber	attnum = get_attnum(oauth_rls_table_oid(OAUTH_TABLE_CLIENTS), "tier");
	bool		isnull;
	Datum		label = heap_getattr(tuple, attnum, desc, &isnull);

	if (!isnull)
	{
		out->tier = oauth_rls_tier_from_oid(DatumGetObjectId(label));
		out->found = true;
	}
}

/* Reads one client's tier from oauth_rls.clients. */
static bool
read_registry(const char *client_id, OAuthTier *tier)
{
	TierRead	out = {false, TIER_BLOCKED};

	registry_read_row(client_id, read_tier_column, &out);
	if (out.found)
		*tier = out.tier;
	return out.found;
}

bool
registry_lookup(const char *client_id, OAuthTier *tier)
{
	ClientEntry *entry;
	HTAB	   *htab;
	OAuthTier	registered_tier = TIER_BLOCKED;
	bool		registered;
	char		canonical[CLAIMS_UUID_TEXT_LEN + 1];

	if (client_id[0] == '\0' || strlen(client_id) > CLIENT_ID_MAXLEN)
		return false;			/* the registry cannot hold such an id */
	/* It holds uuids in lower case only (its CHECK): any case is that client. */
	if (strlen(client_id) == CLAIMS_UUID_TEXT_LEN)
	{
		memcpy(canonical, client_id, sizeof(canonical));
		if (claims_lower_uuid(canonical, CLAIMS_UUID_TEXT_LEN))
			client_id = canonical;
	}

	oauth_rls_accept_invalidations();

	entry = (ClientEntry *) hash_search(table_cache_for_lookup(&client_cache),
										client_id, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*tier = entry->tier;
		return entry->registered;
	}

	registered = read_registry(client_id, &registered_tier);

	htab = table_cache_for_insert(&client_cache, CLIENT_CACHE_MAX_ENTRIES);
	if (htab != NULL)
	{
		entry = (ClientEntry *) hash_search(htab, client_id, HASH_ENTER, NULL);
		entry->registered = registered;
		entry->tier = registered_tier;
	}
	*tier = registered_tier;
	return registered;
}

OAuthTier
registry_tier_of(const char *client_id)
{
	OAuthTier	tier;

	if (registry_lookup(client_id, &tier))
		return tier;
	return (OAuthTier) oauth_rls_unregistered_tier;
}

/*
 * Whether a cache built in a parallel operation, or from an API key, still
 * holds, its epoch being current.  One built in a parallel operation holds
 * only inside it (see ParallelScope; the epoch bounds it to the statement).
 * A key can expire while the settings stay: it is asked again (cheap).
 */
static pg_noinline bool
current_tier_rare_holds(void)
{
	return (!current_tier_cache.parallel || IsInParallelMode()) &&
		(!current_tier_cache.via_api_key || api_key_request_valid());
}

/*
 * A token with a client_id claim: the epoch decides.  A direct session's
 * (or one re-issued without client_id): the command too.
 */
static inline bool
current_tier_holds(void)
{
	if (current_tier_cache.epoch != oauth_rls_current_epoch())
		return false;
	if (likely(current_tier_cache.plain))
		return true;
	if (current_tier_cache.per_command &&
		current_tier_cache.command_id != GetCurrentCommandId(false))
		return false;
	return !current_tier_cache.rare || current_tier_rare_holds();
}

/* Out of line, so that the per-row path sets up no frame for it. */
static pg_noinline void
compute_current_tier(void)
{
	const char *client_id;
	RequestClientSource source;
	bool		per_statement;
	bool		via_api_key;
	OAuthTier	tier;
	StatementKey now = statement_key_now();

	/* Mark invalid first: an error while computing leaves no half state. */
	current_tier_cache.epoch = 0;

	/*
	 * The OAuth client: the client_id claim, else the client of the token's
	 * auth.sessions row (auth_session.c).  Without one, a valid API key
	 * decides: a key that names a client acts as that client; a key that
	 * names none is an application all the same (an MCP server, a CLI),
	 * never the user's own browser session, so it gets the tier of an
	 * unregistered client, as does a token with a scope but no client.
	 */
	source = auth_request_client(&client_id, &per_statement);
	via_api_key = false;
	if (source == CLIENT_NONE && api_key_request_valid())
	{
		via_api_key = true;
		client_id = api_key_request_client_id();
	}
	if (client_id != NULL)
		tier = registry_tier_of(client_id);
	else if (via_api_key || source == CLIENT_UNKNOWN)
		tier = (OAuthTier) oauth_rls_unregistered_tier;
	else
		tier = TIER_DIRECT;

	/*
	 * Record the epoch seen before the lookup: if the lookup processed an
	 * invalidation, the next call looks again.
	 */
	current_tier_cache.per_command = per_statement;
	current_tier_cache.command_id = now.command_id;
	current_tier_cache.parallel = IsInParallelMode();
	current_tier_cache.via_api_key = via_api_key;
	current_tier_cache.rare = current_tier_cache.parallel || via_api_key;
	current_tier_cache.plain = !per_statement && !current_tier_cache.rare;
	current_tier_cache.tier = tier;
	current_tier_cache.label = (Datum) 0;
	current_tier_cache.epoch = now.epoch;
}

static inline OAuthTier
current_tier(void)
{
	if (unlikely(!current_tier_holds()))
		compute_current_tier();
	return current_tier_cache.tier;
}

OAuthTier
registry_current_tier(void)
{
	return current_tier();
}

static Datum
tier_datum(OAuthTier tier)
{
	return ObjectIdGetDatum(oauth_rls_tier_oid(tier));
}

/*
 * current_tier() -> oauth_rls.tier.  The label is looked up once per cached
 * answer: the epoch also moves when the extension's catalog objects may have
 * changed (a schema or table invalidation).
 */
PG_FUNCTION_INFO_V1(oauth_rls_current_tier);
Datum
oauth_rls_current_tier(PG_FUNCTION_ARGS)
{
	OAuthTier	tier = current_tier();

	if (unlikely(current_tier_cache.label == (Datum) 0))
		current_tier_cache.label = tier_datum(tier);
	return current_tier_cache.label;
}

/* tier_of(client_id text) -> oauth_rls.tier */
PG_FUNCTION_INFO_V1(oauth_rls_tier_of);
Datum
oauth_rls_tier_of(PG_FUNCTION_ARGS)
{
	char	   *client_id = text_to_cstring(PG_GETARG_TEXT_PP(0));

	return tier_datum(registry_tier_of(client_id));
}

/* is_oauth() -> boolean: the request comes through an OAuth client. */
PG_FUNCTION_INFO_V1(oauth_rls_is_oauth);
Datum
oauth_rls_is_oauth(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(current_tier() != TIER_DIRECT);
}

/* is_first_party() -> boolean: a direct session or a first-party client. */
PG_FUNCTION_INFO_V1(oauth_rls_is_first_party);
Datum
oauth_rls_is_first_party(PG_FUNCTION_ARGS)
{
	OAuthTier	tier = current_tier();

	PG_RETURN_BOOL(tier == TIER_DIRECT || tier == TIER_FIRST_PARTY);
}
