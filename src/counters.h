/*
 * counters.h
 *      The shared-memory counter store: token buckets for rate limits, API
 *      key last use and token issuance counts, kept without writing a row
 *      and flushed to the tables in batches (see docs/rate-limits.md).
 */
#ifndef OAUTH_RLS_COUNTERS_H
#define OAUTH_RLS_COUNTERS_H

#include "oauth_rls.h"

#include "utils/timestamp.h"

/* Longest key a counter entry holds (a bucket's subject, an issuance's row key). */
#define COUNTER_KEY_MAX 352

/* Kinds of entry; the kind is part of the key. */
typedef enum CounterKind
{
	COUNTER_FREE = 0,
	COUNTER_BUCKET,				/* a rate limit's token bucket */
	COUNTER_KEY_USE,			/* an API key's last use, until flushed */
	COUNTER_ISSUANCE			/* tokens issued in one hour, until flushed */
} CounterKind;

/*
 * Whether the store exists in this backend (attaching to it on first use):
 * false on PostgreSQL 15/16 without shared_preload_libraries = 'oauth_rls'.
 */
extern bool counters_available(void);

/* Raises a clear error (which setting to change) when the store is missing. */
extern void counters_require(const char *what);

/*
 * Takes one token from the bucket named by key (rate tokens per second, at
 * most burst).  True when admitted; otherwise *retry_after is the time in
 * seconds until a token is there.
 */
extern bool counters_take_token(const char *key, int keylen, double rate, double burst,
								double *retry_after);

/*
 * Records the use of an API key at `when`; written to last_used_at by the
 * next flush.  False when the store cannot take it here (no store, a
 * standby, no database): the caller keeps its own bookkeeping then.
 */
extern bool counters_note_key_use(const char *key_id, TimestampTz when);

/*
 * Counts one token issued (or refused) when this transaction commits; false
 * when the store cannot take it (the caller counts in the table itself).
 */
extern bool counters_count_issuance(TimestampTz at, OAuthTier tier, const char *client,
									const char *method);

/* Defines the settings and, when preloaded, requests the shared memory. */
extern void counters_init(void);

/* Background worker entry point (bgw_function_name). */
extern PGDLLEXPORT void oauth_rls_flush_main(Datum main_arg);

#endif							/* OAUTH_RLS_COUNTERS_H */
