/*
 * api_keys.h
 *      API keys (pk_<id>.sk_<secret>): validation, and the key of the
 *      current request (header x-api-key) for use inside RLS.
 */
#ifndef OAUTH_RLS_API_KEYS_H
#define OAUTH_RLS_API_KEYS_H

#include "oauth_rls.h"
#include "utils/uuid.h"

/*
 * The client id named by the request's valid API key (header x-api-key), or
 * NULL when there is no key, the key is invalid or it names no client.  The
 * pointer stays valid until the next change of a request setting or of
 * oauth_rls.api_keys.  Cheap when called repeatedly within a request.
 */
extern const char *api_key_request_client_id(void);

/* Whether the request carries a valid API key (header x-api-key). */
extern bool api_key_request_valid(void);

/* Key id of the request's valid key (and its owner), else NULL. */
extern const char *api_key_request_key_id(pg_uuid_t *owner);

/* oauth_rls.api_key_cache_size: most key rows cached per backend. */
extern int	oauth_rls_api_key_cache_size;

/* Defines the module's settings; called from _PG_init. */
extern void api_keys_init(void);

#endif							/* OAUTH_RLS_API_KEYS_H */
