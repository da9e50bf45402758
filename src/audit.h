/*
 * audit.h
 *      Policy audit: facts read from stored policy expression trees, and the
 *      rewrite that replaces per-row request calls and hand-written client_id
 *      claim reads by oauth_rls's functions of the same meaning.
 */
#ifndef OAUTH_RLS_AUDIT_H
#define OAUTH_RLS_AUDIT_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/pg_list.h"

/* What a known function is to the audit; one function may be several. */
#define AUDIT_FN_PER_REQUEST	0x01	/* same answer for every row of a request */
#define AUDIT_FN_CLIENT			0x02	/* answer depends on the OAuth client */
#define AUDIT_FN_CLAIMS			0x04	/* returns the whole claims object */
#define AUDIT_FN_CLIENT_ID		0x08	/* oauth_rls.client_id() */
#define AUDIT_FN_ALLOWS			0x10	/* oauth_rls.allows(regclass, text) */
#define AUDIT_FN_EXTENSION		0x20	/* lives in schema oauth_rls */
#define AUDIT_FN_CLAIM			0x40	/* oauth_rls.claim(text) */
#define AUDIT_FN_SETTING		0x80	/* pg_catalog.current_setting */
#define AUDIT_FN_IS_OAUTH		0x100	/* oauth_rls.is_oauth() */
#define AUDIT_FN_FIRST_PARTY	0x200	/* oauth_rls.is_first_party() */
#define AUDIT_FN_TIER			0x400	/* oauth_rls.current_tier() */

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
	MemoryContext mcxt;			/* lives as long as this (the call site's) */
	struct HTAB *helpers;		/* HelperFacts by function oid, read once each */
} AuditFuncs;

/*
 * What a helper (a SQL or plpgsql function of the user's that a policy
 * calls) reads, as if its body were in the policy; the helpers it calls are
 * included.
 */
typedef struct HelperFacts
{
	Oid			oid;			/* hash key */
	bool		is_helper;		/* false: not a function whose body is read */
	bool		done;			/* false while its body is read (a call cycle) */
	bool		client_aware;	/* its answer can depend on the OAuth client */
	bool		user_metadata;	/* it reads user_metadata */
	bool		security_definer;	/* it reads tables as its owner */
	bool		read_fully;		/* false: plpgsql (read as far as its text
								 * tells), or a body that could not be read */
	List	   *tables;			/* tables its body reads (OIDs) */
	List	   *helpers;		/* helpers it calls, itself first (OIDs) */
} HelperFacts;

/* audit.c: the known functions, resolved once per call site (fn_extra). */
extern AuditFuncs *audit_funcs(FunctionCallInfo fcinfo);

/*
 * audit.c: what oauth_rls._policy_facts() returns for one policy's trees,
 * into values/nulls of AUDIT_FACTS_NATTS each, in its column order.
 */
#define AUDIT_FACTS_NATTS 13
extern void audit_policy_facts(AuditFuncs *funcs, Node *qual, Node *check,
							   Datum *values, bool *nulls);

/*
 * audit.c: what oauth_rls._rewrite_policy() returns (new_qual, new_check,
 * changes) into values/nulls of three each; dpcontext is
 * deparse_context_for() the policy's table (one serves all its policies).
 */
extern void audit_rewrite_policy(const AuditFuncs *funcs, Node *qual, Node *check,
								 List *dpcontext, Datum *values, bool *nulls);

/*
 * audit_access.c: the commands role may run on a relation in schema nsp
 * (AUDIT_CMD_* bits; none without USAGE on the schema), as
 * oauth_rls._api_commands() answers.
 */
#define AUDIT_CMD_SELECT	1
#define AUDIT_CMD_INSERT	2
#define AUDIT_CMD_UPDATE	4
#define AUDIT_CMD_DELETE	8
extern int	audit_api_commands(Oid relid, Oid nsp, Oid role);

/* audit.c: walks a helper's analysed body into facts (audit_helpers.c). */
extern void audit_walk_body(AuditFuncs *funcs, List *queries, Node *result, HelperFacts *facts);
extern const AuditFunc *audit_find_func(const AuditFuncs *funcs, Oid oid);

/* audit_helpers.c: the facts of a function a policy calls, or NULL. */
extern HelperFacts *audit_helper_facts(AuditFuncs *funcs, Oid funcid);

#endif							/* OAUTH_RLS_AUDIT_H */
