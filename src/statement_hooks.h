/*
 * statement_hooks.h
 *      Top-level statement boundaries for the per-statement caches.
 */
#ifndef OAUTH_RLS_STATEMENT_HOOKS_H
#define OAUTH_RLS_STATEMENT_HOOKS_H

/* Installs the executor and utility hooks; called once from _PG_init. */
extern void statement_hooks_init(void);

#endif							/* OAUTH_RLS_STATEMENT_HOOKS_H */
