/*
 * claims.h
 *      The request's JWT claims, read from the settings PostgREST fills.
 */
#ifndef OAUTH_RLS_CLAIMS_H
#define OAUTH_RLS_CLAIMS_H

#include "oauth_rls.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

/*
 * The claims in force, parsed once per distinct settings text.  Pointers stay
 * valid until the next change of a request setting; copy what must outlive it.
 */
typedef struct RequestClaims
{
	Jsonb	   *claims;			/* the claims object, or NULL when none */
	bool		has_user;
	pg_uuid_t	user_id;
	bool		has_session;
	pg_uuid_t	session_id;
	const char *client_id;		/* NULL: no OAuth client (direct session) */
	int			nscopes;
	char	  **scopes;			/* from the space-separated "scope" claim */
	bool		has_scope_claim;	/* "scope" is present (Auth writes it for OAuth only) */
} RequestClaims;

/*
 * The current claims.  Raises (never returns NULL fields) when a setting is
 * malformed: a NULL client_id must only ever mean "no client_id claim".  A
 * sub or session_id that is not a uuid is not raised here (user_id() and
 * session_id() raise it): has_user or has_session is false instead.
 */
extern const RequestClaims *claims_current(void);

/* JSON text as jsonb, or NULL when it is not valid JSON (never echoed). */
extern Jsonb *claims_parse_json(const char *text);

/*
 * The current values of the legacy settings request.jwt.claim, .sub and
 * .client_id, which this module defines (NULL or "" when not set).
 */
extern void claims_legacy_values(const char **claim, const char **sub, const char **client_id);

/* request.headers as text, or NULL when unset or ''. */
extern const char *claims_request_headers(void);

/* Defines the request.* settings the module watches; called from _PG_init. */
extern void claims_init(void);

#endif							/* OAUTH_RLS_CLAIMS_H */
