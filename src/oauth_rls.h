/*
 * oauth_rls.h
 *      The settings the entry point defines and the counter that invalidates
 *      per-backend caches; includes common.h (tiers, shared helpers).
 */
#ifndef OAUTH_RLS_H
#define OAUTH_RLS_H

#include "postgres.h"

#include "common.h"

/*
 * Bumped by the assign hook of every setting a cached answer depends on
 * (request.jwt.*, request.headers, oauth_rls.*).  A GUC assignment happens on
 * SET, set_config(), RESET and on every transaction or savepoint end that
 * restores an old value, so "generation unchanged" proves "inputs unchanged".
 */
extern uint64 oauth_rls_request_generation;

/*
 * Moves whenever anything a per-statement cached answer depends on may have
 * changed: every bump of oauth_rls_request_generation, every invalidation of
 * the extension's tables or of a schema, each transaction end, each abort
 * of a subtransaction that wrote, and each new top-level statement
 * (invalidation.h, statement_hooks.c: several statements of one client
 * message included).  So a hot
 * path that caches for one statement compares this one counter.  Never 0.
 */
extern uint64 oauth_rls_cache_epoch;

/* What an assign hook of a setting a cached answer depends on calls. */
static inline void
oauth_rls_request_changed(void)
{
	oauth_rls_request_generation++;
	oauth_rls_cache_epoch++;
}

/* oauth_rls.unregistered_client_tier: TIER_THIRD_PARTY or TIER_BLOCKED. */
extern int	oauth_rls_unregistered_tier;

#endif							/* OAUTH_RLS_H */
