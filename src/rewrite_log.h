/*
 * rewrite_log.h
 *      oauth_rls.rewrite_log is written by the extension only: the SQL-callable
 *      writers and the check of the DDL revert_rewrite() runs are in
 *      rewrite_log.c.
 */
#ifndef OAUTH_RLS_REWRITE_LOG_H
#define OAUTH_RLS_REWRITE_LOG_H

#include "postgres.h"

#endif							/* OAUTH_RLS_REWRITE_LOG_H */
