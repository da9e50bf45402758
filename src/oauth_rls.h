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

/* oauth_rls.unregistered_client_tier: TIER_THIRD_PARTY or TIER_BLOCKED. */
extern int	oauth_rls_unregistered_tier;

#endif							/* OAUTH_RLS_H */
