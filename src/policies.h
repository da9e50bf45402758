/*
 * policies.h
 *      The access matrix (oauth_rls.access_matrix), allows() and revocation
 *      enforcement (session_active()) behind the generated guard policies.
 */
#ifndef OAUTH_RLS_POLICIES_H
#define OAUTH_RLS_POLICIES_H

#include "oauth_rls.h"

/* The commands a guard policy covers, in the matrix's canonical order. */
typedef enum GuardCommand
{
	GUARD_SELECT = 0,
	GUARD_INSERT,
	GUARD_UPDATE,
	GUARD_DELETE,
	GUARD_COMMAND_COUNT
} GuardCommand;

/* oauth_rls.enforce_revocation */
extern bool oauth_rls_enforce_revocation;

/*
 * Whether the current request's tier may run the command on the relation,
 * by the matrix (or its defaults), and, for OAuth tiers with revocation
 * enforced, only while the token's session is active.
 */
extern bool policies_allows(Oid relid, GuardCommand command);

/*
 * Whether the current request's session is still live: always true for a
 * direct session; for an OAuth request, its auth.sessions row exists and its
 * client is not soft-deleted.  Computed at most once per statement.
 */
extern bool policies_session_active(void);

/* Defines oauth_rls.enforce_revocation; called from _PG_init. */
extern void policies_init(void);

#endif							/* OAUTH_RLS_POLICIES_H */
