/*
 * invalidation.h
 *      Per-backend cache invalidation for the extension's own tables.
 *
 * Each table whose rows a backend caches has a generation counter.  A
 * statement trigger on the table (oauth_rls._invalidate_caches) queues a
 * relcache invalidation at commit; every backend's relcache callback bumps the
 * matching counter.  Callbacks only bump counters (they can fire inside any
 * lock acquisition), and readers rebuild lazily when the counter moved.
 */
#ifndef OAUTH_RLS_INVALIDATION_H
#define OAUTH_RLS_INVALIDATION_H

#include "oauth_rls.h"

typedef enum OAuthRlsTable
{
	OAUTH_TABLE_CLIENTS = 0,
	OAUTH_TABLE_ACCESS,			/* access matrix (policies module) */
	OAUTH_TABLE_API_KEYS,		/* API keys (api_keys module) */
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

/*
 * Applies invalidations committed by others once per statement.  Postgres
 * applies them at transaction start and whenever a lock is taken; a cached
 * answer takes no lock, so without this a long transaction would keep
 * serving a registry, matrix or key state that changed after it began.
 */
extern void oauth_rls_accept_invalidations(void);

/* Registers the relcache callback; called once from _PG_init. */
extern void invalidation_init(void);

#endif							/* OAUTH_RLS_INVALIDATION_H */
