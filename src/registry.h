/*
 * registry.h
 *      The first-party client registry (oauth_rls.clients) and client tiers.
 */
#ifndef OAUTH_RLS_REGISTRY_H
#define OAUTH_RLS_REGISTRY_H

#include "oauth_rls.h"
#include "access/htup.h"
#include "access/tupdesc.h"

/* Longest client id the registry accepts (its CHECK constraint agrees). */
#define CLIENT_ID_MAXLEN 255

/*
 * Registered tier of a client; false when the client is not registered.
 * Cached per backend, invalidated by any committed change to the registry.
 */
extern bool registry_lookup(const char *client_id, OAuthTier *tier);

/* Registered tier, else oauth_rls.unregistered_client_tier. */
extern OAuthTier registry_tier_of(const char *client_id);

/*
 * Reads a client's row of oauth_rls.clients, uncached, with the latest
 * snapshot: fn sees the tuple while the table is open.  False when absent.
 */
typedef void (*RegistryRowCallback) (HeapTuple tuple, TupleDesc desc, void *arg);
extern bool registry_read_row(const char *client_id, RegistryRowCallback fn, void *arg);

/* The tier of the current request: TIER_DIRECT without an OAuth client. */
extern OAuthTier registry_current_tier(void);

#endif							/* OAUTH_RLS_REGISTRY_H */
