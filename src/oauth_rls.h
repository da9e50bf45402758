/*
 * oauth_rls.h
 *      Declarations shared by every module: the client tiers, the settings
 *      the module defines, and the counters that invalidate per-backend caches.
 */
#ifndef OAUTH_RLS_H
#define OAUTH_RLS_H

#include "postgres.h"

#define OAUTH_RLS_SCHEMA "oauth_rls"

/* The tiers of oauth_rls.tier, in enum order.  DIRECT is never stored. */
typedef enum OAuthTier
{
	TIER_DIRECT = 0,
	TIER_FIRST_PARTY,
	TIER_THIRD_PARTY,
	TIER_BLOCKED,
	TIER_COUNT
} OAuthTier;

extern const char *const oauth_tier_labels[TIER_COUNT];

/*
 * Bumped by the assign hook of every setting a cached answer depends on
 * (request.jwt.*, request.headers, oauth_rls.*).  A GUC assignment happens on
 * SET, set_config(), RESET and on every transaction or savepoint end that
 * restores an old value, so "generation unchanged" proves "inputs unchanged".
 */
extern uint64 oauth_rls_request_generation;

/* oauth_rls.unregistered_client_tier: TIER_THIRD_PARTY or TIER_BLOCKED. */
extern int	oauth_rls_unregistered_tier;

/*
 * Runs fn(arg) in a subtransaction: NULL when it succeeded, else the error it
 * raised, with the subtransaction rolled back and the error state cleared.
 * A cancel or a shutdown is re-thrown, never swallowed.
 */
extern ErrorData *oauth_rls_try_in_subtransaction(void (*fn) (void *), void *arg);

#endif							/* OAUTH_RLS_H */
