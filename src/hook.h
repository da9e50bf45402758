/*
 * hook.h
 *      Supabase Auth's Custom Access Token Hook in C:
 *      oauth_rls.custom_access_token_hook(event jsonb) -> jsonb.
 */
#ifndef OAUTH_RLS_HOOK_H
#define OAUTH_RLS_HOOK_H

#include "oauth_rls.h"

/*
 * Largest event the hook accepts.  A token's claims travel in an HTTP header
 * (servers cap headers at 8-64 kB), so a bigger event is malformed, and the
 * cap keeps every call far inside Auth's 2 s statement timeout.
 */
#define HOOK_MAX_EVENT_BYTES (256 * 1024)

/* Issuance counters per (hour, client, tier, method) are split this many ways. */
#define HOOK_ISSUANCE_SHARDS 16

/* Longest authentication method recorded in the issuance metrics. */
#define HOOK_METHOD_MAXLEN 64

/* Defines the hook's oauth_rls.* settings; called from _PG_init. */
extern void hook_init(void);

#endif							/* OAUTH_RLS_HOOK_H */
