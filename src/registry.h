/*
 * registry.h
 *      The first-party client registry (oauth_rls.clients) and client tiers.
 */
#ifndef OAUTH_RLS_REGISTRY_H
#define OAUTH_RLS_REGISTRY_H

#include "oauth_rls.h"

/* Longest client id the registry accepts (its CHECK constraint agrees). */
#define CLIENT_ID_MAXLEN 255

/*
 * Registered tier of a client; false when the client is not registered.
 * Cached per backend, invalidated by any committed change to the registry.
 */
extern bool registry_lookup(const char *client_id, OAuthTier *tier);

/* Registered tier, else oauth_rls.unregistered_client_tier. */
extern OAuthTier registry_tier_of(const char *client_id);

/* The tier of the current request: TIER_DIRECT without an OAuth client. */
extern OAuthTier registry_current_tier(void);

#endif							/* OAUTH_RLS_REGISTRY_H */
