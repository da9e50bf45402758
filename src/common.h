/*
 * common.h
 *      Helpers every module uses: the client tiers and their labels, running
 *      a step in a subtransaction, and SPI with a pinned search_path.
 */
#ifndef OAUTH_RLS_COMMON_H
#define OAUTH_RLS_COMMON_H

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
 * Runs fn(arg) in a subtransaction: NULL when it succeeded, else the error it
 * raised, with the subtransaction rolled back and the error state cleared.
 * A cancel or a shutdown is re-thrown, never swallowed.
 */
extern ErrorData *oauth_rls_try_in_subtransaction(void (*fn) (void *), void *arg);

/*
 * SPI for the extension's own queries.  oauth_rls_spi_connect() connects and
 * pins search_path to "pg_catalog, pg_temp", so that no name in our query
 * texts can resolve to an object of the caller's schemas (a superuser's
 * DROP must never run an operator its search_path plants).  The query texts
 * are schema-qualified as well.  oauth_rls_spi_finish() disconnects and
 * restores the caller's search_path; an error in between restores it with
 * the (sub)transaction's abort.
 */
extern int	oauth_rls_spi_connect(void);
extern void oauth_rls_spi_finish(int nestlevel);

/* The pin alone, for callers that are already connected to SPI. */
extern int	oauth_rls_pin_search_path(void);
extern void oauth_rls_unpin_search_path(int nestlevel);

/* The owner of a relation (raises when there is none). */
extern Oid	oauth_rls_relation_owner(Oid relid);

#endif							/* OAUTH_RLS_COMMON_H */
