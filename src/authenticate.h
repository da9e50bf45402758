/*
 * authenticate.h
 *      oauth_rls.authenticate(token): verifies a JWT inside the database and
 *      sets the request's claims and role from it, for the transaction.
 */
#ifndef OAUTH_RLS_AUTHENTICATE_H
#define OAUTH_RLS_AUTHENTICATE_H

#include "oauth_rls.h"

/* Deepest JSON nesting accepted in a token's header or payload. */
#define JWT_MAX_JSON_DEPTH 32

/* Verified tokens kept per backend (PostgREST's jwt cache holds 1,000). */
#define JWT_TOKEN_CACHE_MAX 1000

#endif							/* OAUTH_RLS_AUTHENTICATE_H */
