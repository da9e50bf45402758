/*
 * ratelimit.c
 *      oauth_rls.pre_request(), oauth_rls.rate_limit(): token-bucket rate
 *      limits per OAuth client (or its tier), API key and user.
 *
 * Limits are rows of oauth_rls.rate_limits, read once into a per-backend
 * cache and dropped when the table changes (invalidation.c).  Buckets live
 * in the shared-memory counter store (counters.c), so a check writes no row:
 * it works in read-only transactions (PostgREST's GETs) and on standbys,
 * where each node counts for itself.
 *
 * A refusal is raised for PostgREST: SQLSTATE PGRST with a JSON message
 * whose code is PT429 and a JSON detail giving status 429 and the
 * Retry-After header.  PostgREST takes response headers from such an error
 * only; a PT429 error would lose them, since the raised error rolls back a
 * set_config('response.headers', ...) made before it.
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "api_keys.h"
#include "claims.h"
#include "counters.h"
#include "invalidation.h"
#include "ratelimit.h"
#include "registry.h"

/* A limit's cache key: a scope letter, then the subject. */
#define LIMIT_KEY_LEN (RATE_LIMIT_SUBJECT_MAXLEN + 2)

typedef struct LimitEntry
{
	char		key[LIMIT_KEY_LEN];
	double		rate;			/* tokens per second */
	double		burst;
} LimitEntry;

static TableCache limits_cache =
	TABLE_CACHE("oauth_rls rate limits", OAUTH_TABLE_RATE_LIMITS, LIMIT_KEY_LEN, LimitEntry, true);

/* Whether limits_cache holds every row (a load cut short by an error does not). */
static bool limits_complete = false;
static long limits_count = 0;

static char
scope_letter(const char *scope)
{
	if (strcmp(scope, "tier") == 0)
		return 't';
	if (strcmp(scope, "client") == 0)
		return 'c';
	if (strcmp(scope, "api_key") == 0)
		return 'k';
	if (strcmp(scope, "user") == 0)
		return 'u';
	return '\0';
}

static int
limit_key(char *buf, char letter, const char *subject, size_t len)
{
	if (len > RATE_LIMIT_SUBJECT_MAXLEN)
		return -1;
	buf[0] = letter;
	memcpy(buf + 1, subject, len);
	buf[len + 1] = '\0';
	return (int) len + 1;
}

static AttrNumber
column(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table oauth_rls.rate_limits has no column \"%s\"", name),
				 errhint("Update the extension: ALTER EXTENSION oauth_rls UPDATE.")));
	return attnum;
}

static void
load_limits(HTAB *htab, Oid relid)
{
	AttrNumber	a_scope = column(relid, "scope");
	AttrNumber	a_subject = column(relid, "subject");
	AttrNumber	a_rate = column(relid, "rate");
	AttrNumber	a_burst = column(relid, "burst");
	Relation	rel = table_open(relid, AccessShareLock);
	Snapshot	snapshot = oauth_rls_register_read_snapshot();
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tuple;

	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		n1,
					n2,
					n3,
					n4;
		Datum		scope = heap_getattr(tuple, a_scope, desc, &n1);
		Datum		subject = heap_getattr(tuple, a_subject, desc, &n2);
		Datum		rate = heap_getattr(tuple, a_rate, desc, &n3);
		Datum		burst = heap_getattr(tuple, a_burst, desc, &n4);
		char		key[LIMIT_KEY_LEN];
		char	   *s;
		LimitEntry *e;

		if (n1 || n2 || n3 || n4)
			continue;			/* NOT NULL columns: cannot happen */
		s = TextDatumGetCString(subject);
		if (limit_key(key, scope_letter(TextDatumGetCString(scope)), s, strlen(s)) < 0 ||
			key[0] == '\0')
			continue;			/* the CHECK constraints forbid it */
		e = (LimitEntry *) hash_search(htab, key, HASH_ENTER, NULL);
		e->rate = DatumGetFloat8(rate);
		e->burst = (double) DatumGetInt32(burst);
		limits_count++;
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
}

/* The limits, read again when the table changed. */
static HTAB *
limits(void)
{
	Oid			relid;
	HTAB	   *htab;

	oauth_rls_accept_invalidations();
	if (limits_complete && table_cache_valid(&limits_cache))
		return limits_cache.htab;
	relid = oauth_rls_table_oid(OAUTH_TABLE_RATE_LIMITS);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table oauth_rls.rate_limits does not exist"),
				 errhint("Update the extension: ALTER EXTENSION oauth_rls UPDATE.")));
	limits_complete = false;
	limits_count = 0;
	if (table_cache_valid(&limits_cache))
		limits_cache.generation = 0;	/* a partial load: start again */
	htab = table_cache_for_lookup(&limits_cache);
	load_limits(htab, relid);
	limits_complete = true;
	return htab;
}

static const LimitEntry *
find_limit(HTAB *htab, char letter, const char *subject, size_t len)
{
	char		key[LIMIT_KEY_LEN];

	if (limit_key(key, letter, subject, len) < 0)
		return NULL;
	return (const LimitEntry *) hash_search(htab, key, HASH_FIND, NULL);
}

/* A subject's limit: its own row, else the scope's '*' row. */
static const LimitEntry *
subject_limit(HTAB *htab, char letter, const char *subject, size_t len)
{
	const LimitEntry *limit = find_limit(htab, letter, subject, len);

	return limit != NULL ? limit : find_limit(htab, letter, "*", 1);
}

/* A client's limit: its own row, else its tier's, else the '*' client row. */
static const LimitEntry *
client_limit(HTAB *htab, const char *client, size_t len, OAuthTier tier)
{
	const LimitEntry *limit = find_limit(htab, 'c', client, len);
	const char *label = oauth_tier_labels[tier];

	if (limit == NULL)
		limit = find_limit(htab, 't', label, strlen(label));
	return limit != NULL ? limit : find_limit(htab, 'c', "*", 1);
}

/*
 * Takes a token from the subject's bucket; 0 when admitted, else the
 * seconds to wait (Retry-After, at least 1).
 */
static int
take(char letter, const char *subject, size_t len, const LimitEntry *limit)
{
	char		bucket[LIMIT_KEY_LEN];
	int			keylen = limit_key(bucket, letter, subject, len);
	double		wait = 0;

	if (limit == NULL || keylen < 0)
		return 0;
	if (counters_take_token(bucket, keylen, limit->rate, limit->burst, &wait))
		return 0;
	wait = Min(ceil(wait), 86400.0);
	return wait < 1 ? 1 : (int) wait;
}

static void
format_uuid(char *buf, const pg_uuid_t *uuid)
{
	static const char hex[] = "0123456789abcdef";
	int			j = 0;

	for (int i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[j++] = '-';
		buf[j++] = hex[uuid->data[i] >> 4];
		buf[j++] = hex[uuid->data[i] & 0xF];
	}
	buf[j] = '\0';
}

static void
refuse(const char *what, int seconds)
{
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T')),
			 errmsg("{\"code\":\"PT429\",\"message\":\"Too many requests\","
					"\"details\":\"the rate limit of this %s is exhausted\","
					"\"hint\":\"Retry after %d seconds.\"}", what, seconds),
			 errdetail("{\"status\":429,\"status_text\":\"Too Many Requests\","
					   "\"headers\":{\"Retry-After\":\"%d\"}}", seconds)));
}

/*
 * Checks the current request against every limit that applies to it: its
 * OAuth client (the client's row, else its tier's row, else '*'), its API
 * key and its user (the JWT's sub, else the key's owner).  A refused check
 * stops there; the buckets checked before it keep the token they gave.
 */
static void
check_request(void)
{
	HTAB	   *htab;
	const RequestClaims *rc;
	const char *client;
	const char *key_id;
	pg_uuid_t	owner;
	int			wait;

	counters_require("the rate limit check");
	htab = limits();
	if (limits_count == 0)
		return;

	rc = claims_current();
	key_id = api_key_request_key_id(&owner);
	client = rc->client_id != NULL ? rc->client_id : api_key_request_client_id();
	if (client != NULL)
	{
		const LimitEntry *limit = client_limit(htab, client, strlen(client),
											   registry_current_tier());

		if ((wait = take('c', client, strlen(client), limit)) > 0)
			refuse("client", wait);
	}
	if (key_id != NULL &&
		(wait = take('k', key_id, strlen(key_id),
					 subject_limit(htab, 'k', key_id, strlen(key_id)))) > 0)
		refuse("API key", wait);
	if (rc->has_user || key_id != NULL)
	{
		char		user[UUID_LEN * 2 + 5];

		format_uuid(user, rc->has_user ? &rc->user_id : &owner);
		if ((wait = take('u', user, strlen(user), subject_limit(htab, 'u', user, strlen(user)))) > 0)
			refuse("user", wait);
	}
}

/*
 * pre_request() -> void: for PostgREST's db-pre-request (Supabase:
 * pgrst.db_pre_request).  Refuses an over-limit request with HTTP 429 and a
 * Retry-After header.
 */
PG_FUNCTION_INFO_V1(oauth_rls_pre_request);
Datum
oauth_rls_pre_request(PG_FUNCTION_ARGS)
{
	check_request();
	PG_RETURN_VOID();
}

/* rate_limit() -> void: the same check, for RPC functions. */
PG_FUNCTION_INFO_V1(oauth_rls_rate_limit);
Datum
oauth_rls_rate_limit(PG_FUNCTION_ARGS)
{
	check_request();
	PG_RETURN_VOID();
}

/*
 * rate_limit(scope text, subject text) -> integer: for servers that know
 * their caller.  Takes a token from the subject's bucket under its limit;
 * 0 when admitted (or no limit applies), else the seconds to wait.
 */
PG_FUNCTION_INFO_V1(oauth_rls_rate_limit_subject);
Datum
oauth_rls_rate_limit_subject(PG_FUNCTION_ARGS)
{
	char	   *scope = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *subject_text = PG_GETARG_TEXT_PP(1);
	const char *subject = VARDATA_ANY(subject_text);
	size_t		len = VARSIZE_ANY_EXHDR(subject_text);
	char		letter = scope_letter(scope);
	char		user[UUID_LEN * 2 + 5];
	const LimitEntry *limit;
	HTAB	   *htab;

	if (letter == '\0' || letter == 't')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate limit scope must be client, api_key or user"),
				 errdetail("A tier's limit applies to each of its clients: pass scope client.")));
	if (len == 0 || len > RATE_LIMIT_SUBJECT_MAXLEN || memchr(subject, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate limit subject must be 1 to %d bytes", RATE_LIMIT_SUBJECT_MAXLEN)));
	if (letter == 'u')
	{
		/* Users are matched by uuid, whatever its spelling. */
		pg_uuid_t  *uuid = DatumGetUUIDP(DirectFunctionCall1(uuid_in,
														   CStringGetDatum(text_to_cstring(subject_text))));

		format_uuid(user, uuid);
		subject = user;
		len = strlen(user);
	}
	counters_require("oauth_rls.rate_limit()");
	htab = limits();
	if (letter == 'c')
		limit = client_limit(htab, subject, len, registry_tier_of(pnstrdup(subject, len)));
	else
		limit = subject_limit(htab, letter, subject, len);
	PG_RETURN_INT32(take(letter, subject, len, limit));
}
