/*
 * ratelimit.h
 *      Rate limits per tier, client, API key and user: token buckets in the
 *      shared-memory counter store, limits from oauth_rls.rate_limits.
 */
#ifndef OAUTH_RLS_RATELIMIT_H
#define OAUTH_RLS_RATELIMIT_H

#include "oauth_rls.h"

/* Longest subject of a limit (a client id is at most 255 bytes). */
#define RATE_LIMIT_SUBJECT_MAXLEN 255

#endif							/* OAUTH_RLS_RATELIMIT_H */
