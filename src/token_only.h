/*
 * token_only.h
 *      The trust boundary of authenticate(): sessions of a token-only role
 *      (oauth_rls.token_only_roles) get request.jwt.* claims and a role only
 *      from oauth_rls.authenticate().
 */
#ifndef OAUTH_RLS_TOKEN_ONLY_H
#define OAUTH_RLS_TOKEN_ONLY_H

#include "oauth_rls.h"

#include "utils/guc.h"

/* True only while authenticate() sets the claims and role it verified. */
extern bool token_only_authenticating;

/* Check hook of every request.jwt.claim* setting the module defines. */
extern bool token_only_check_claim_setting(char **newval, void **extra, GucSource source);

/* Whether the session user is a token-only role (needs a transaction). */
extern bool token_only_session(void);

/*
 * Raises when the session is token-only but the library was loaded only
 * when first called: before that, the session could SET ROLE and set claims
 * unchecked, so authenticate() refuses to vouch for it.
 */
extern void token_only_require_preloaded(void);

/* Defines the guarded legacy settings and installs the hooks; from _PG_init. */
extern void token_only_init(void);

/* The current values of the legacy request.jwt.claim.role and .email (NULL or ""). */
extern void token_only_legacy_values(const char **role, const char **email);

#endif							/* OAUTH_RLS_TOKEN_ONLY_H */
