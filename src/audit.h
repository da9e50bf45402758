/*
 * audit.h
 *      Policy audit: facts read from stored policy expression trees, and the
 *      rewrite that replaces per-row request calls and hand-written client_id
 *      claim reads by oauth_rls's functions of the same meaning.
 */
#ifndef OAUTH_RLS_AUDIT_H
#define OAUTH_RLS_AUDIT_H

#include "postgres.h"

/* What a known function is to the audit; one function may be several. */
#define AUDIT_FN_PER_REQUEST	0x01	/* same answer for every row of a request */
#define AUDIT_FN_CLIENT			0x02	/* answer depends on the OAuth client */
#define AUDIT_FN_CLAIMS			0x04	/* returns the whole claims object */
#define AUDIT_FN_CLIENT_ID		0x08	/* oauth_rls.client_id() */
#define AUDIT_FN_ALLOWS			0x10	/* oauth_rls.allows(regclass, text) */
#define AUDIT_FN_EXTENSION		0x20	/* lives in schema oauth_rls */
#define AUDIT_FN_CLAIM			0x40	/* oauth_rls.claim(text) */
#define AUDIT_FN_SETTING		0x80	/* pg_catalog.current_setting */

typedef struct AuditFunc
{
	Oid			oid;
	const char *label;			/* as shown in findings, e.g. "auth.uid()" */
	int			flags;
	Oid			replacement;	/* oauth_rls function of the same meaning, computed
								 * once per statement (auth.uid() ->
								 * oauth_rls.user_id()), or InvalidOid */
} AuditFunc;

/* Known functions, resolved by schema and name (every overload). */
typedef struct AuditFuncs
{
	int			count;
	AuditFunc  *funcs;
	Oid			client_id_oid;	/* InvalidOid before the extension exists */
	Oid			auth_users_oid; /* auth.users, whose raw_user_meta_data users edit */
} AuditFuncs;

#endif							/* OAUTH_RLS_AUDIT_H */
