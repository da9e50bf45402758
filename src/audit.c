/*
 * audit.c
 *      Facts about a policy read from its stored expression tree, and the
 *      tree rewrite behind oauth_rls.plan_rewrite().
 *
 * pg_policy keeps USING and WITH CHECK as parsed, analysed trees
 * (pg_node_tree).  Reading the tree instead of the deparsed text means the
 * audit sees what the planner sees: function calls are resolved to OIDs, so
 * spacing, aliases, casts, quoting, schema qualification or a search_path
 * trick cannot hide or fake a finding.
 *
 * "Per-row" here means a call whose answer is the same for every row of a
 * statement (auth.uid(), current_setting(), our claim readers...) evaluated
 * where the executor runs it once per row.  Wrapped as a scalar subquery,
 * (select auth.uid()), the planner turns it into an initPlan that runs once.
 * A call counts as wrapped when it is the whole target of an uncorrelated,
 * FROM-less scalar subquery; calls inside an EXISTS or IN subquery that reads
 * a table still run once per row of that subquery, so they are reported too.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"
#include "common.h"
#include "oauth_rls.h"

/*
 * The functions the audit knows, by schema and name, and the oauth_rls
 * function the rewrite puts in their place where the meaning is the same
 * (auth.role() and auth.email() also read the legacy settings
 * request.jwt.claim.role / .email, which oauth_rls.claim() does not).
 */
static const struct
{
	const char *schema;
	const char *name;
	int			flags;
	const char *replacement;	/* in schema oauth_rls, same arguments */
}			known_functions[] = {
	{"auth", "uid", AUDIT_FN_PER_REQUEST, "user_id"},
	{"auth", "jwt", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLAIMS, "claims"},
	{"auth", "role", AUDIT_FN_PER_REQUEST, NULL},
	{"auth", "email", AUDIT_FN_PER_REQUEST, NULL},
	{"pg_catalog", "current_setting", AUDIT_FN_PER_REQUEST | AUDIT_FN_SETTING, NULL},
	{OAUTH_RLS_SCHEMA, "claims", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLAIMS, NULL},
	{OAUTH_RLS_SCHEMA, "claim", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLAIM, NULL},
	{OAUTH_RLS_SCHEMA, "user_id", AUDIT_FN_PER_REQUEST, NULL},
	{OAUTH_RLS_SCHEMA, "session_id", AUDIT_FN_PER_REQUEST, NULL},
	{OAUTH_RLS_SCHEMA, "client_id", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT | AUDIT_FN_CLIENT_ID, NULL},
	{OAUTH_RLS_SCHEMA, "scopes", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT, NULL},
	{OAUTH_RLS_SCHEMA, "has_scope", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT, NULL},
	{OAUTH_RLS_SCHEMA, "current_tier", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT | AUDIT_FN_TIER, NULL},
	{OAUTH_RLS_SCHEMA, "is_oauth", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT | AUDIT_FN_IS_OAUTH, NULL},
	{OAUTH_RLS_SCHEMA, "is_first_party", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT | AUDIT_FN_FIRST_PARTY, NULL},
	{OAUTH_RLS_SCHEMA, "allows", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT | AUDIT_FN_ALLOWS, NULL},
	{OAUTH_RLS_SCHEMA, "session_active", AUDIT_FN_PER_REQUEST | AUDIT_FN_CLIENT, NULL},
};

/* The argument-less oauth_rls.<name>() returning rettype, or InvalidOid. */
static Oid
extension_function(const char *name, Oid rettype)
{
	Oid			nspoid = get_namespace_oid(OAUTH_RLS_SCHEMA, true);
	oidvector  *noargs = buildoidvector(NULL, 0);
	HeapTuple	tuple;
	Oid			result = InvalidOid;

	if (!OidIsValid(nspoid))
		return InvalidOid;
	tuple = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum(name), PointerGetDatum(noargs),
							ObjectIdGetDatum(nspoid));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	if (((Form_pg_proc) GETSTRUCT(tuple))->prorettype == rettype)
		result = ((Form_pg_proc) GETSTRUCT(tuple))->oid;
	ReleaseSysCache(tuple);
	return result;
}

/* Resolves every overload of schema.name into funcs (which has room). */
static void
resolve_function(AuditFuncs *funcs, const char *schema, const char *name, int flags,
				 const char *replacement)
{
	Oid			nspoid = get_namespace_oid(schema, true);
	CatCList   *catlist;

	if (!OidIsValid(nspoid))
		return;
	catlist = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
	for (int i = 0; i < catlist->n_members; i++)
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(&catlist->members[i]->tuple);
		AuditFunc  *f;

		if (proc->pronamespace != nspoid)
			continue;
		funcs->funcs = repalloc(funcs->funcs, sizeof(AuditFunc) * (funcs->count + 1));
		f = &funcs->funcs[funcs->count++];
		f->oid = proc->oid;
		f->label = strcmp(schema, "pg_catalog") == 0 ? psprintf("%s()", name)
			: psprintf("%s.%s()", schema, name);
		f->flags = flags | (strcmp(schema, OAUTH_RLS_SCHEMA) == 0 ? AUDIT_FN_EXTENSION : 0);
		/* Only an argument-less function of the same result type stands in. */
		f->replacement = replacement != NULL && proc->pronargs == 0
			? extension_function(replacement, proc->prorettype) : InvalidOid;
		if (flags & AUDIT_FN_CLIENT_ID && proc->pronargs == 0)
			funcs->client_id_oid = proc->oid;
	}
	ReleaseSysCacheList(catlist);
}

/*
 * The known functions, resolved once per call site and kept for the rest of
 * the statement (an audit makes one call per policy).
 */
AuditFuncs *
audit_funcs(FunctionCallInfo fcinfo)
{
	MemoryContext oldcxt;
	AuditFuncs *funcs = (AuditFuncs *) fcinfo->flinfo->fn_extra;

	if (funcs != NULL)
		return funcs;
	oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	funcs = palloc0(sizeof(AuditFuncs));
	funcs->mcxt = fcinfo->flinfo->fn_mcxt;
	funcs->funcs = palloc(sizeof(AuditFunc));
	for (size_t i = 0; i < lengthof(known_functions); i++)
		resolve_function(funcs, known_functions[i].schema, known_functions[i].name,
						 known_functions[i].flags, known_functions[i].replacement);
	if (OidIsValid(get_namespace_oid("auth", true)))
		funcs->auth_users_oid = get_relname_relid("users", get_namespace_oid("auth", true));
	MemoryContextSwitchTo(oldcxt);
	fcinfo->flinfo->fn_extra = funcs;
	return funcs;
}

static const AuditFunc *
find_func(const AuditFuncs *funcs, Oid oid)
{
	for (int i = 0; i < funcs->count; i++)
		if (funcs->funcs[i].oid == oid)
			return &funcs->funcs[i];
	return NULL;
}

const AuditFunc *
audit_find_func(const AuditFuncs *funcs, Oid oid)
{
	return find_func(funcs, oid);
}

static Node *scalar_wrapper_target(Node *node);

/* Looks through casts and relabelings to the expression underneath. */
static Node *
strip_casts(Node *node)
{
	for (;;)
	{
		if (node == NULL)
			return NULL;
		if (IsA(node, RelabelType))
			node = (Node *) ((RelabelType *) node)->arg;
		else if (IsA(node, CoerceViaIO))
			node = (Node *) ((CoerceViaIO *) node)->arg;
		else if (IsA(node, CollateExpr))
			node = (Node *) ((CollateExpr *) node)->arg;
		else if (IsA(node, FuncExpr) &&
				 (((FuncExpr *) node)->funcformat == COERCE_EXPLICIT_CAST ||
				  ((FuncExpr *) node)->funcformat == COERCE_IMPLICIT_CAST) &&
				 list_length(((FuncExpr *) node)->args) >= 1)
			node = linitial(((FuncExpr *) node)->args);
		else
			return node;
	}
}

/* Whether a non-null string constant (text, varchar, name...) equals key. */
static bool
const_string_equals(Const *c, const char *key)
{
	char	   *s;

	if (c->constisnull)
		return false;
	switch (c->consttype)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			s = TextDatumGetCString(c->constvalue);
			break;
		case NAMEOID:
			s = NameStr(*DatumGetName(c->constvalue));
			break;
		case UNKNOWNOID:
		case CSTRINGOID:
			s = DatumGetCString(c->constvalue);
			break;
		default:
			return false;
	}
	return strcmp(s, key) == 0;
}

/*
 * Whether a constant names key: 'key', 'key'::varchar, '{key,...}'::text[]
 * (a #> / #>> path) or ARRAY['key', ...] (a variadic extract_path call).
 */
static bool
names_key(Node *node, const char *key)
{
	node = strip_casts(node);
	if (node == NULL)
		return false;
	if (IsA(node, Const))
	{
		Const	   *c = (Const *) node;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (c->consttype != TEXTARRAYOID)
			return const_string_equals(c, key);
		if (c->constisnull)
			return false;
		deconstruct_array(DatumGetArrayTypeP(c->constvalue), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), key) == 0)
				return true;
		return false;
	}
	if (IsA(node, ArrayExpr))
	{
		ListCell   *lc;

		foreach(lc, ((ArrayExpr *) node)->elements)
			if (names_key(lfirst(lc), key))
				return true;
	}
	return false;
}

static bool
is_json_type(Oid type)
{
	return type == JSONBOID || type == JSONOID;
}

/*
 * Whether a constant names key as the first step of a JSON path: 'key',
 * '{key,...}'::text[] (#> / #>>) or ARRAY['key', ...] (variadic
 * jsonb_extract_path).  '{app_metadata,client_id}' reads another key.
 */
static bool
names_top_key(Node *node, const char *key)
{
	node = strip_casts(node);
	if (node == NULL)
		return false;
	if (IsA(node, Const) && ((Const *) node)->consttype == TEXTARRAYOID)
	{
		Const	   *c = (Const *) node;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (c->constisnull)
			return false;
		deconstruct_array(DatumGetArrayTypeP(c->constvalue), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &n);
		return n > 0 && !nulls[0] && strcmp(TextDatumGetCString(elems[0]), key) == 0;
	}
	if (IsA(node, ArrayExpr))
		return ((ArrayExpr *) node)->elements != NIL &&
			names_key(linitial(((ArrayExpr *) node)->elements), key);
	return names_key(node, key);
}

/*
 * Whether node is the request's claims object: auth.jwt(), oauth_rls.claims(),
 * or current_setting('request.jwt.claims' / 'request.jwt.claim')::jsonb,
 * wrapped as (select ...) or not.  A table column holding JSON is not.
 */
static bool
is_request_claims(const AuditFuncs *funcs, Node *node)
{
	Node	   *inner;
	const AuditFunc *f;
	FuncExpr   *call;

	node = strip_casts(node);
	inner = scalar_wrapper_target(node);
	if (inner != NULL)
		return is_request_claims(funcs, inner);
	if (node == NULL || !IsA(node, FuncExpr))
		return false;
	call = (FuncExpr *) node;
	f = find_func(funcs, call->funcid);
	if (f == NULL)
		return false;
	if ((f->flags & AUDIT_FN_CLAIMS) && call->args == NIL)
		return true;
	return (f->flags & AUDIT_FN_SETTING) && call->args != NIL &&
		(names_key(linitial(call->args), "request.jwt.claims") ||
		 names_key(linitial(call->args), "request.jwt.claim"));
}

/*
 * Whether node reads the top-level claim key out of the request's claims, in
 * any spelling: -> / ->> / #> / #>> / ? operators, jsonb_extract_path(_text)
 * and friends, or a subscript.  The test is structural (the claims object
 * followed by a constant naming key), so every operator and function that
 * reads a key is covered; the same key read from a table's JSON column is
 * not a claim.
 */
static bool
reads_claim_key(const AuditFuncs *funcs, Node *node, const char *key)
{
	List	   *args = NIL;

	if (IsA(node, OpExpr))
		args = ((OpExpr *) node)->args;
	else if (IsA(node, FuncExpr))
		args = ((FuncExpr *) node)->args;
	else if (IsA(node, SubscriptingRef))
	{
		SubscriptingRef *sr = (SubscriptingRef *) node;

		return is_json_type(exprType((Node *) sr->refexpr)) && sr->refupperindexpr != NIL &&
			is_request_claims(funcs, (Node *) sr->refexpr) &&
			names_top_key(linitial(sr->refupperindexpr), key);
	}
	return list_length(args) >= 2 && is_json_type(exprType(linitial(args))) &&
		is_request_claims(funcs, linitial(args)) && names_top_key(lsecond(args), key);
}

/* Whether a Var or other row reference escapes node (see row_refs_walker). */
typedef struct RowRefs
{
	int			sublevels;		/* query levels entered below the start node */
} RowRefs;

static bool
row_refs_walker(Node *node, RowRefs *ctx)
{
	bool		found;

	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varlevelsup >= (Index) ctx->sublevels;
	if (IsA(node, Aggref))
		return ((Aggref *) node)->agglevelsup >= (Index) ctx->sublevels ||
			expression_tree_walker(node, row_refs_walker, (void *) ctx);
	if (IsA(node, Param))
		return true;
	if (IsA(node, Query))
	{
		ctx->sublevels++;
		found = query_tree_walker((Query *) node, row_refs_walker, (void *) ctx, 0);
		ctx->sublevels--;
		return found;
	}
	return expression_tree_walker(node, row_refs_walker, (void *) ctx);
}

/*
 * Whether node has the same value for every row of the statement: it refers
 * to no row (of the policy's table or of any enclosing subquery) and calls
 * nothing volatile, so the planner may compute it once.
 */
static bool
row_independent(Node *node)
{
	RowRefs		ctx = {0};

	return !row_refs_walker(node, &ctx) && !contain_volatile_functions(node);
}

/* The expression of a FROM-less, single-column scalar subquery, or NULL. */
static Node *
scalar_wrapper_target(Node *node)
{
	SubLink    *sl;
	Query	   *q;
	TargetEntry *te;

	if (node == NULL || !IsA(node, SubLink))
		return NULL;
	sl = (SubLink *) node;
	if (sl->subLinkType != EXPR_SUBLINK || !IsA(sl->subselect, Query))
		return NULL;
	q = (Query *) sl->subselect;
	if (q->commandType != CMD_SELECT || q->rtable != NIL || q->setOperations != NULL ||
		q->jointree == NULL || q->jointree->fromlist != NIL || q->jointree->quals != NULL ||
		q->hasAggs || q->hasWindowFuncs || q->hasTargetSRFs || q->cteList != NIL ||
		q->groupClause != NIL || q->havingQual != NULL || q->limitCount != NULL ||
		list_length(q->targetList) != 1)
		return NULL;
	te = linitial_node(TargetEntry, q->targetList);
	return te->resjunk ? NULL : (Node *) te->expr;
}

/* A scalar subquery the planner runs once: (select <row-independent expr>). */
static bool
is_once_per_statement(Node *node)
{
	Node	   *target = scalar_wrapper_target(node);

	return target != NULL && row_independent(target);
}

/* Whether a call to f at this place runs per row although it need not. */
static bool
hoistable_call(const AuditFunc *f, FuncExpr *call)
{
	return f != NULL && (f->flags & AUDIT_FN_PER_REQUEST) &&
		row_independent((Node *) call->args) &&
		func_volatile(call->funcid) != PROVOLATILE_VOLATILE;
}

/*
 * Whether node is a hand-written client_id claim read that means exactly
 * oauth_rls.client_id(): <claims> ->> 'client_id' where <claims> is
 * auth.jwt() or oauth_rls.claims(), wrapped or not.
 */
static bool
is_jwt_client_id_read(const AuditFuncs *funcs, Node *node)
{
	OpExpr	   *op;
	Node	   *left;
	Node	   *inner;
	const AuditFunc *f;

	if (!IsA(node, OpExpr))
		return false;
	op = (OpExpr *) node;
	if (op->opfuncid != F_JSONB_OBJECT_FIELD_TEXT || list_length(op->args) != 2 ||
		!names_key(lsecond(op->args), "client_id") ||
		!IsA(strip_casts(lsecond(op->args)), Const))
		return false;
	left = linitial(op->args);
	inner = scalar_wrapper_target(left);
	if (inner != NULL)
		left = inner;
	if (!IsA(left, FuncExpr))
		return false;
	f = find_func(funcs, ((FuncExpr *) left)->funcid);
	return f != NULL && (f->flags & AUDIT_FN_CLAIMS) && ((FuncExpr *) left)->args == NIL;
}

typedef struct FactsWalk
{
	AuditFuncs *funcs;
	int			wrapped;		/* > 0 inside (select <row-independent expr>) */
	List	   *per_row;		/* labels of per-row calls, distinct */
	bool		client_aware;
	bool		user_metadata;
	int			jwt_client_tests;
	List	   *tables;			/* OIDs of the tables subqueries read */
	List	   *queries;		/* enclosing subqueries, innermost first */
	bool		has_sublink;	/* PostgreSQL's policy recursion check runs */
	List	   *helpers;		/* OIDs of the helpers called, transitively */
	List	   *helper_tables;	/* OIDs of the tables their bodies read */
	List	   *unread;			/* OIDs of helpers not read fully */
} FactsWalk;

/* What a helper reads counts as read by the policy that calls it. */
static void
note_helper(FactsWalk *w, Oid funcid)
{
	HelperFacts *h = audit_helper_facts(w->funcs, funcid);
	ListCell   *lc;

	if (h == NULL)
		return;
	w->client_aware |= h->client_aware;
	w->user_metadata |= h->user_metadata;
	w->helpers = list_concat_unique_oid(w->helpers, h->helpers);
	/* A SECURITY DEFINER helper reads as its owner, past the tables' guards. */
	if (!h->security_definer)
		w->helper_tables = list_concat_unique_oid(w->helper_tables, h->tables);
	if (!h->read_fully)
		w->unread = list_append_unique_oid(w->unread, funcid);
	/* the helpers it calls that were not read fully */
	foreach(lc, h->helpers)
	{
		HelperFacts *inner = audit_helper_facts(w->funcs, lfirst_oid(lc));

		if (inner != NULL && inner->done && !inner->read_fully)
			w->unread = list_append_unique_oid(w->unread, lfirst_oid(lc));
	}
}

/*
 * Whether a column reference reads auth.users.raw_user_meta_data, the
 * user_metadata every user can edit.  varlevelsup counts subqueries outwards
 * from the Var; beyond the outermost one is the policy's own table.
 */
static bool
reads_raw_user_metadata(FactsWalk *w, Var *var)
{
	Query	   *q;
	RangeTblEntry *rte;
	char	   *attname;

	if (!OidIsValid(w->funcs->auth_users_oid) || var->varattno <= 0 ||
		var->varlevelsup >= (Index) list_length(w->queries))
		return false;
	q = list_nth_node(Query, w->queries, var->varlevelsup);
	if ((int) var->varno < 1 || (int) var->varno > list_length(q->rtable))
		return false;
	rte = rt_fetch(var->varno, q->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relid != w->funcs->auth_users_oid)
		return false;
	attname = get_attname(rte->relid, var->varattno, true);
	return attname != NULL && strcmp(attname, "raw_user_meta_data") == 0;
}

static void
note_call(FactsWalk *w, FuncExpr *call)
{
	const AuditFunc *f = find_func(w->funcs, call->funcid);
	ListCell   *lc;

	if (f == NULL)
	{
		note_helper(w, call->funcid);
		return;
	}
	if (f->flags & AUDIT_FN_CLIENT)
		w->client_aware = true;
	if (f->flags & (AUDIT_FN_SETTING | AUDIT_FN_CLAIM) && call->args != NIL)
	{
		/* current_setting('request.jwt.claim.client_id'), claim('client_id') */
		if (names_key(linitial(call->args), "request.jwt.claim.client_id") ||
			names_key(linitial(call->args), "client_id"))
			w->client_aware = true;
		if (names_key(linitial(call->args), "user_metadata"))
			w->user_metadata = true;
	}
	/*
	 * oauth_rls's own functions keep their answer per call site for the
	 * statement: unwrapped they cost a few instructions per row.
	 */
	if (w->wrapped > 0 || (f->flags & AUDIT_FN_EXTENSION) || !hoistable_call(f, call))
		return;
	foreach(lc, w->per_row)
		if (strcmp((const char *) lfirst(lc), f->label) == 0)
			return;
	w->per_row = lappend(w->per_row, (void *) f->label);
}

static bool
facts_walker(Node *node, FactsWalk *w)
{
	bool		result;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		ListCell   *lc;

		/*
		 * A table a policy reads is read under that table's own policies:
		 * guarding it can close the policy's table too (see audit()).
		 */
		foreach(lc, ((Query *) node)->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION)
				w->tables = list_append_unique_oid(w->tables, rte->relid);
		}
		w->queries = lcons(node, w->queries);
		result = query_tree_walker((Query *) node, facts_walker, (void *) w, 0);
		w->queries = list_delete_first(w->queries);
		return result;
	}
	if (IsA(node, SubLink))
		w->has_sublink = true;
	if (IsA(node, Var) && reads_raw_user_metadata(w, (Var *) node))
		w->user_metadata = true;
	if (is_once_per_statement(node))
	{
		w->wrapped++;
		result = expression_tree_walker(node, facts_walker, (void *) w);
		w->wrapped--;
		return result;
	}
	if (IsA(node, FuncExpr))
		note_call(w, (FuncExpr *) node);
	if (IsA(node, OpExpr) || IsA(node, FuncExpr) || IsA(node, SubscriptingRef))
	{
		if (reads_claim_key(w->funcs, node, "client_id"))
			w->client_aware = true;
		if (reads_claim_key(w->funcs, node, "user_metadata"))
			w->user_metadata = true;
		if (is_jwt_client_id_read(w->funcs, node))
			w->jwt_client_tests++;
	}
	return expression_tree_walker(node, facts_walker, (void *) w);
}

/*
 * Whether node reads the request's client id: oauth_rls.client_id(),
 * claim('client_id'), current_setting('request.jwt.claim.client_id') or the
 * client_id key of the request's claims.
 */
static bool
is_client_read(const AuditFuncs *funcs, Node *node)
{
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *call = (FuncExpr *) node;
		const AuditFunc *f = find_func(funcs, call->funcid);

		if (f != NULL && (f->flags & AUDIT_FN_CLIENT_ID) && call->args == NIL)
			return true;
		if (f != NULL && (f->flags & (AUDIT_FN_SETTING | AUDIT_FN_CLAIM)) && call->args != NIL &&
			(names_key(linitial(call->args), "request.jwt.claim.client_id") ||
			 ((f->flags & AUDIT_FN_CLAIM) && names_key(linitial(call->args), "client_id"))))
			return true;
	}
	return (IsA(node, OpExpr) || IsA(node, FuncExpr) || IsA(node, SubscriptingRef)) &&
		reads_claim_key(funcs, node, "client_id");
}

typedef struct TierCtx
{
	AuditFuncs *funcs;
	OAuthTier	tier;
} TierCtx;

/*
 * A value that is unknown but differs between tiers: a parameter numbered
 * by the tier, which constant folding leaves alone.
 */
static Node *
tier_marker(Node *node, OAuthTier tier)
{
	Param	   *p = makeNode(Param);

	p->paramkind = PARAM_EXTERN;
	p->paramid = 1000000 + (int) tier;
	p->paramtype = exprType(node);
	p->paramtypmod = exprTypmod(node);
	p->paramcollid = exprCollation(node);
	p->location = -1;
	return (Node *) p;
}

/* The oauth_rls.tier value of a label, as a constant, or NULL. */
static Node *
tier_const(Oid enumtype, OAuthTier tier)
{
	Oid			label = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
										ObjectIdGetDatum(enumtype),
										CStringGetDatum(oauth_tier_labels[tier]));

	if (!OidIsValid(label))
		return NULL;
	return (Node *) makeConst(enumtype, -1, InvalidOid, sizeof(Oid), ObjectIdGetDatum(label),
							  false, true);
}

/* The tree as it is for one tier: what depends on the client replaced. */
static Node *
tier_mutator(Node *node, TierCtx *ctx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, tier_mutator, (void *) ctx, 0);
	if (is_client_read(ctx->funcs, node))
		return ctx->tier == TIER_DIRECT
			? (Node *) makeNullConst(exprType(node), exprTypmod(node), exprCollation(node))
			: tier_marker(node, ctx->tier);
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *call = (FuncExpr *) node;
		const AuditFunc *f = find_func(ctx->funcs, call->funcid);
		HelperFacts *h;

		if (f != NULL && (f->flags & AUDIT_FN_IS_OAUTH))
			return makeBoolConst(ctx->tier != TIER_DIRECT, false);
		if (f != NULL && (f->flags & AUDIT_FN_FIRST_PARTY))
			return makeBoolConst(ctx->tier <= TIER_FIRST_PARTY, false);
		if (f != NULL && (f->flags & AUDIT_FN_TIER) && call->args == NIL)
		{
			Node	   *c = tier_const(call->funcresulttype, ctx->tier);

			return c != NULL ? c : tier_marker(node, ctx->tier);
		}
		if (f != NULL && (f->flags & AUDIT_FN_CLIENT))
			return tier_marker(node, ctx->tier);
		h = f == NULL ? audit_helper_facts(ctx->funcs, call->funcid) : NULL;
		if (h != NULL && h->client_aware)
			return tier_marker(node, ctx->tier);
	}
	return expression_tree_mutator(node, tier_mutator, (void *) ctx);
}

/* Comparisons that cannot raise, evaluated on constants by safe_fold(). */
static bool
safe_comparison(Oid funcid)
{
	return funcid == F_ENUM_EQ || funcid == F_ENUM_NE || funcid == F_TEXTEQ ||
		funcid == F_TEXTNE || funcid == F_BOOLEQ || funcid == F_BOOLNE;
}

static Node *
bool_result(Datum value, bool isnull)
{
	return makeBoolConst(DatumGetBool(value), isnull);
}

/* AND / OR / NOT over constants, the other arguments kept. */
static Node *
fold_bool(BoolExpr *b)
{
	List	   *kept = NIL;
	ListCell   *lc;
	bool		is_and = b->boolop == AND_EXPR;

	if (b->boolop == NOT_EXPR)
	{
		Node	   *arg = linitial(b->args);

		if (IsA(arg, Const))
			return ((Const *) arg)->constisnull ? arg
				: makeBoolConst(!DatumGetBool(((Const *) arg)->constvalue), false);
		return (Node *) b;
	}
	foreach(lc, b->args)
	{
		Node	   *arg = lfirst(lc);

		if (IsA(arg, Const) && !((Const *) arg)->constisnull)
		{
			if (DatumGetBool(((Const *) arg)->constvalue) != is_and)
				return makeBoolConst(!is_and, false);	/* false AND, true OR */
			continue;			/* true AND x, false OR x: x */
		}
		kept = lappend(kept, arg);
	}
	if (kept == NIL)
		return makeBoolConst(is_and, false);
	if (list_length(kept) == 1)
		return linitial(kept);
	b->args = kept;
	return (Node *) b;
}

/* The elements of a constant array: a Const, or ARRAY[...] of Consts. */
static bool
constant_elements(Node *node, Datum **elems, bool **nulls, int *n)
{
	if (IsA(node, Const) && !((Const *) node)->constisnull)
	{
		ArrayType  *a = DatumGetArrayTypeP(((Const *) node)->constvalue);
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(a), &typlen, &typbyval, &typalign);
		deconstruct_array(a, ARR_ELEMTYPE(a), typlen, typbyval, typalign, elems, nulls, n);
		return true;
	}
	if (IsA(node, ArrayExpr) && !((ArrayExpr *) node)->multidims)
	{
		ListCell   *lc;
		int			i = 0;

		*n = list_length(((ArrayExpr *) node)->elements);
		*elems = palloc(sizeof(Datum) * (*n + 1));
		*nulls = palloc(sizeof(bool) * (*n + 1));
		foreach(lc, ((ArrayExpr *) node)->elements)
		{
			if (!IsA(lfirst(lc), Const))
				return false;
			(*elems)[i] = ((Const *) lfirst(lc))->constvalue;
			(*nulls)[i++] = ((Const *) lfirst(lc))->constisnull;
		}
		return true;
	}
	return false;
}

/* x = ANY (array), both constants, with a comparison that cannot raise. */
static Node *
fold_array_op(ScalarArrayOpExpr *op)
{
	Const	   *left = linitial(op->args);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	bool		any_null = false;

	if (!constant_elements(lsecond(op->args), &elems, &nulls, &n))
		return (Node *) op;
	if (left->constisnull)
		return makeBoolConst(false, true);
	for (int i = 0; i < n; i++)
	{
		bool		match;

		if (nulls[i])
		{
			any_null = true;
			continue;
		}
		match = DatumGetBool(OidFunctionCall2Coll(op->opfuncid, op->inputcollid,
												  left->constvalue, elems[i]));
		if (match == op->useOr)
			return makeBoolConst(op->useOr, false);
	}
	return any_null ? makeBoolConst(false, true) : makeBoolConst(!op->useOr, false);
}

/*
 * Constant folding limited to what cannot raise: AND / OR / NOT, IS [NOT]
 * NULL and IS [NOT] TRUE/FALSE of constants, and =, <> and IN between
 * constants of the enum, text and boolean types.  PostgreSQL's own folding
 * would evaluate any immutable function of constants found in a policy (a
 * 1/0 raises), and an audit must not fail on the policy it reads.
 */
static Node *
safe_fold(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, safe_fold, context, 0);
	node = expression_tree_mutator(node, safe_fold, context);
	if (IsA(node, BoolExpr))
		return fold_bool((BoolExpr *) node);
	if (IsA(node, NullTest) && IsA(((NullTest *) node)->arg, Const) && !((NullTest *) node)->argisrow)
	{
		NullTest   *nt = (NullTest *) node;
		bool		isnull = ((Const *) nt->arg)->constisnull;

		return makeBoolConst((nt->nulltesttype == IS_NULL) == isnull, false);
	}
	if (IsA(node, BooleanTest) && IsA(((BooleanTest *) node)->arg, Const))
	{
		BooleanTest *bt = (BooleanTest *) node;
		Const	   *c = (Const *) bt->arg;
		bool		v = !c->constisnull && DatumGetBool(c->constvalue);

		switch (bt->booltesttype)
		{
			case IS_TRUE:
				return makeBoolConst(!c->constisnull && v, false);
			case IS_NOT_TRUE:
				return makeBoolConst(c->constisnull || !v, false);
			case IS_FALSE:
				return makeBoolConst(!c->constisnull && !v, false);
			case IS_NOT_FALSE:
				return makeBoolConst(c->constisnull || v, false);
			case IS_UNKNOWN:
				return makeBoolConst(c->constisnull, false);
			case IS_NOT_UNKNOWN:
				return makeBoolConst(!c->constisnull, false);
		}
	}
	if (IsA(node, OpExpr) && list_length(((OpExpr *) node)->args) == 2 &&
		safe_comparison(((OpExpr *) node)->opfuncid) &&
		IsA(linitial(((OpExpr *) node)->args), Const) && IsA(lsecond(((OpExpr *) node)->args), Const))
	{
		OpExpr	   *op = (OpExpr *) node;
		Const	   *l = linitial(op->args);
		Const	   *r = lsecond(op->args);

		if (l->constisnull || r->constisnull)
			return makeBoolConst(false, true);
		return bool_result(OidFunctionCall2Coll(op->opfuncid, op->inputcollid, l->constvalue,
												r->constvalue), false);
	}
	if (IsA(node, ScalarArrayOpExpr) && safe_comparison(((ScalarArrayOpExpr *) node)->opfuncid) &&
		IsA(linitial(((ScalarArrayOpExpr *) node)->args), Const))
		return fold_array_op((ScalarArrayOpExpr *) node);
	return node;
}

/*
 * Whether the outcome of a tree that reads the client can depend on the
 * tier: is_oauth() OR NOT is_oauth() reads it, and says nothing.  Each
 * client-dependent call is replaced by what it is for each tier (is_oauth()
 * by true or false, current_tier() by the tier, client_id() by NULL for a
 * direct session and by an unknown otherwise) and the tree folded (safely,
 * see safe_fold()); equal results for all tiers mean it does not depend on
 * the client.  What the folding does not simplify stays, and differs
 * between tiers: such a tree counts as depending on the client.
 */
static bool
tier_dependent(AuditFuncs *funcs, Node *tree)
{
	Node	   *direct = NULL;

	if (tree == NULL)
		return false;
	for (int t = 0; t < TIER_COUNT; t++)
	{
		TierCtx		ctx = {funcs, (OAuthTier) t};
		/* (the mutators copy what they change: tree itself stays as it is) */
		Node	   *folded = safe_fold(tier_mutator(tree, &ctx), NULL);

		if (t == TIER_DIRECT)
			direct = folded;
		else if (!equal(direct, folded))
			return true;
	}
	return false;
}

/* See audit.h: a helper's body read into facts. */
void
audit_walk_body(AuditFuncs *funcs, List *queries, Node *result, HelperFacts *facts)
{
	FactsWalk	w = {0};
	ListCell   *lc;
	MemoryContext oldcxt;

	w.funcs = funcs;
	foreach(lc, queries)
		facts_walker(lfirst(lc), &w);
	facts->user_metadata |= w.user_metadata;
	/* A body that is not one expression: reading the client counts. */
	if (w.client_aware && (result == NULL || tier_dependent(funcs, result)))
		facts->client_aware = true;
	if (w.unread != NIL)
		facts->read_fully = false;
	oldcxt = MemoryContextSwitchTo(funcs->mcxt);
	facts->tables = list_concat_unique_oid(facts->tables, w.tables);
	facts->tables = list_concat_unique_oid(facts->tables, w.helper_tables);
	facts->helpers = list_concat_unique_oid(facts->helpers, w.helpers);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Whether an expression is true whatever the row and request: the literal
 * true, and AND / OR / NOT / IS NOT NULL built from such constants.  Only
 * shapes that cannot raise are evaluated: an audit must never fail on the
 * policy it reads.
 */
static int
constant_truth(Node *node)
{
	ListCell   *lc;

	/* 1 = true, 0 = false, -1 = depends */
	node = strip_casts(node);
	if (node == NULL)
		return -1;
	if (IsA(node, Const))
	{
		Const	   *c = (Const *) node;

		if (c->consttype != BOOLOID || c->constisnull)
			return -1;
		return DatumGetBool(c->constvalue) ? 1 : 0;
	}
	if (IsA(node, BoolExpr))
	{
		BoolExpr   *b = (BoolExpr *) node;
		int			all = 1;

		if (b->boolop == NOT_EXPR)
		{
			int			v = constant_truth(linitial(b->args));

			return v < 0 ? -1 : !v;
		}
		foreach(lc, b->args)
		{
			int			v = constant_truth(lfirst(lc));

			if (b->boolop == OR_EXPR && v == 1)
				return 1;
			if (b->boolop == AND_EXPR && v == 0)
				return 0;
			if (v != (b->boolop == AND_EXPR ? 1 : 0))
				all = -1;
		}
		return all < 0 ? -1 : (b->boolop == AND_EXPR ? 1 : 0);
	}
	if (IsA(node, NullTest) && IsA(strip_casts((Node *) ((NullTest *) node)->arg), Const))
	{
		NullTest   *nt = (NullTest *) node;
		bool		isnull = ((Const *) strip_casts((Node *) nt->arg))->constisnull;

		return (nt->nulltesttype == IS_NULL) == isnull ? 1 : 0;
	}
	if (IsA(node, OpExpr))
	{
		/* x = x on two equal constants of one type, e.g. 1 = 1 */
		OpExpr	   *op = (OpExpr *) node;
		Node	   *l,
				   *r;
		char	   *name;

		if (list_length(op->args) != 2)
			return -1;
		l = linitial(op->args);
		r = lsecond(op->args);
		name = get_opname(op->opno);
		if (name != NULL && strcmp(name, "=") == 0 && IsA(l, Const) && IsA(r, Const) &&
			equal(l, r) && !((Const *) l)->constisnull)
			return 1;
	}
	return -1;
}

/* Looks through binary-compatible relabelings only: they keep the value. */
static Node *
strip_relabel(Node *node)
{
	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/*
 * Whether a tree is exactly what guard() writes, however it is spelled:
 * oauth_rls.allows(<table constant>, <command constant>), or the same call
 * as a scalar subquery, (select oauth_rls.allows(...)), as guard() wrote it
 * before 0.2.0 (same answer; the upgrade rewrites them).  Anything more (an
 * OR, a NOT, an IS NOT NULL, a second call, an OFFSET) could change the
 * answer, so such a policy is no longer a guard (GUARD_EDITED) and guard()
 * replaces it.  Sets the table and command the guard is for.
 */
static bool
guard_shape(const AuditFuncs *funcs, Node *tree, Oid *table, char **command)
{
	Node	   *target = scalar_wrapper_target(tree);
	FuncExpr   *call;
	const AuditFunc *f;
	Node	   *tbl;
	Node	   *cmd;

	if (target != NULL)
	{
		Query	   *q = (Query *) ((SubLink *) tree)->subselect;

		if (q->limitOffset != NULL || q->sortClause != NIL || q->distinctClause != NIL)
			return false;
	}
	else
		target = tree;
	if (target == NULL || !IsA(target, FuncExpr))
		return false;
	call = (FuncExpr *) target;
	f = find_func(funcs, call->funcid);
	if (f == NULL || !(f->flags & AUDIT_FN_ALLOWS) || list_length(call->args) != 2)
		return false;
	tbl = strip_relabel(linitial(call->args));
	cmd = strip_relabel(lsecond(call->args));
	if (!IsA(tbl, Const) || ((Const *) tbl)->consttype != REGCLASSOID ||
		((Const *) tbl)->constisnull ||
		!IsA(cmd, Const) || ((Const *) cmd)->consttype != TEXTOID ||
		((Const *) cmd)->constisnull)
		return false;
	*table = DatumGetObjectId(((Const *) tbl)->constvalue);
	*command = TextDatumGetCString(((Const *) cmd)->constvalue);
	return true;
}

/*
 * The guard both trees are for: every tree present must have the guard shape,
 * and for the same table and command (an UPDATE guard has both).
 */
static bool
guard_of(const AuditFuncs *funcs, Node *qual, Node *check, Oid *table, char **command)
{
	Oid			check_table;
	char	   *check_command;

	if (qual == NULL && check == NULL)
		return false;
	if (qual != NULL && !guard_shape(funcs, qual, table, command))
		return false;
	if (check == NULL)
		return true;
	if (!guard_shape(funcs, check, &check_table, &check_command))
		return false;
	if (qual != NULL && (check_table != *table || strcmp(check_command, *command) != 0))
		return false;
	*table = check_table;
	*command = check_command;
	return true;
}

static ArrayType *
oid_array(List *oids)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(oids) + 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, oids)
		elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	return construct_array(elems, i, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
}

static Node *
tree_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return (Node *) stringToNode(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/* See audit.h: the facts of one policy, as _policy_facts() returns them. */
void
audit_policy_facts(AuditFuncs *funcs, Node *qual, Node *check, Datum *values, bool *nulls)
{
	FactsWalk	w = {0};
	Oid			guard_table = InvalidOid;
	char	   *guard_command = NULL;
	Datum	   *labels;
	int			i = 0;
	ListCell   *lc;

	w.funcs = funcs;
	facts_walker(qual, &w);
	facts_walker(check, &w);
	/* Reading the client counts only where the outcome can depend on it. */
	if (w.client_aware)
		w.client_aware = tier_dependent(funcs, qual) || tier_dependent(funcs, check);

	memset(nulls, 0, sizeof(bool) * AUDIT_FACTS_NATTS);
	labels = palloc(sizeof(Datum) * (list_length(w.per_row) + 1));
	foreach(lc, w.per_row)
		labels[i++] = CStringGetTextDatum((const char *) lfirst(lc));
	values[0] = PointerGetDatum(construct_array(labels, i, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = BoolGetDatum(w.client_aware);
	values[2] = BoolGetDatum(w.user_metadata);
	values[3] = BoolGetDatum(constant_truth(qual) == 1);
	nulls[3] = qual == NULL;
	values[4] = BoolGetDatum(constant_truth(check) == 1);
	nulls[4] = check == NULL;
	values[5] = Int32GetDatum(w.jwt_client_tests);
	if (guard_of(funcs, qual, check, &guard_table, &guard_command))
	{
		values[6] = ObjectIdGetDatum(guard_table);
		values[7] = CStringGetTextDatum(guard_command);
	}
	else
		nulls[6] = nulls[7] = true;
	values[8] = PointerGetDatum(oid_array(w.tables));
	values[9] = BoolGetDatum(w.has_sublink);
	values[10] = PointerGetDatum(oid_array(w.helpers));
	values[11] = PointerGetDatum(oid_array(w.unread));
	values[12] = PointerGetDatum(oid_array(w.helper_tables));
}

/*
 * oauth_rls._policy_facts(qual pg_node_tree, with_check pg_node_tree)
 *   -> (per_row_calls text[], client_aware, user_metadata, using_true,
 *       check_true, jwt_client_tests, guard_table oid, guard_command text,
 *       reads_tables oid[], has_sublink, helpers oid[], helpers_unread oid[],
 *       helper_tables oid[])
 */
PG_FUNCTION_INFO_V1(oauth_rls_policy_facts);
Datum
oauth_rls_policy_facts(PG_FUNCTION_ARGS)
{
	AuditFuncs *funcs = audit_funcs(fcinfo);
	Node	   *qual = tree_arg(fcinfo, 0);
	Node	   *check = tree_arg(fcinfo, 1);
	TupleDesc	tupdesc;
	Datum		values[AUDIT_FACTS_NATTS];
	bool		nulls[AUDIT_FACTS_NATTS];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("oauth_rls._policy_facts must be declared with OUT parameters")));
	tupdesc = BlessTupleDesc(tupdesc);
	audit_policy_facts(funcs, qual, check, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

typedef struct RewriteCtx
{
	const AuditFuncs *funcs;
	int			wrapped;
	bool		changed;
	List	   *changes;		/* "auth.uid() by oauth_rls.user_id()", distinct */
} RewriteCtx;

static void
note_change(RewriteCtx *ctx, const char *change)
{
	ListCell   *lc;

	ctx->changed = true;
	foreach(lc, ctx->changes)
		if (strcmp((const char *) lfirst(lc), change) == 0)
			return;
	ctx->changes = lappend(ctx->changes, (void *) change);
}

/* A call of the argument-less function funcid in place of node. */
static Node *
make_call(Oid funcid, Node *node)
{
	return (Node *) makeFuncExpr(funcid, exprType(node), NIL, exprCollation(node), InvalidOid,
								 COERCE_EXPLICIT_CALL);
}

/*
 * Replaces <claims> ->> 'client_id' by oauth_rls.client_id(), and each
 * per-row call that has an oauth_rls equivalent (auth.uid(), auth.jwt()) by
 * that function, which computes its answer once per statement and call
 * site.  Nothing is wrapped in a subquery: a policy holding a sublink makes
 * PostgreSQL run its policy recursion check, and a table whose policies read
 * it back (an admin check on profiles itself) would then fail with
 * "infinite recursion detected in policy" where it used to answer.
 */
static Node *
rewrite_mutator(Node *node, RewriteCtx *ctx)
{
	Node	   *result;

	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, rewrite_mutator, (void *) ctx, 0);
	if (is_once_per_statement(node))
	{
		ctx->wrapped++;
		result = expression_tree_mutator(node, rewrite_mutator, (void *) ctx);
		ctx->wrapped--;
		return result;
	}
	if (OidIsValid(ctx->funcs->client_id_oid) && is_jwt_client_id_read(ctx->funcs, node))
	{
		note_change(ctx, "auth.jwt() ->> 'client_id' by oauth_rls.client_id()");
		return make_call(ctx->funcs->client_id_oid, node);
	}
	if (IsA(node, FuncExpr) && ctx->wrapped == 0)
	{
		FuncExpr   *call = (FuncExpr *) node;
		const AuditFunc *f = find_func(ctx->funcs, call->funcid);

		if (hoistable_call(f, call) && OidIsValid(f->replacement))
		{
			note_change(ctx, psprintf("%s by %s.%s()", f->label, OAUTH_RLS_SCHEMA,
									  get_func_name(f->replacement)));
			return make_call(f->replacement, node);
		}
	}
	return expression_tree_mutator(node, rewrite_mutator, (void *) ctx);
}

/* The rewritten tree as SQL, or NULL when the rewrite changes nothing. */
static Datum
rewrite_tree(RewriteCtx *ctx, Node *tree, List *dpcontext, bool *isnull)
{
	Node	   *rewritten;

	ctx->changed = false;
	rewritten = rewrite_mutator(tree, ctx);
	*isnull = !ctx->changed;
	if (!ctx->changed)
		return (Datum) 0;
	return CStringGetTextDatum(deparse_expression(rewritten, dpcontext, false, false));
}

/* See audit.h: a policy's trees rewritten, as _rewrite_policy() returns them. */
void
audit_rewrite_policy(const AuditFuncs *funcs, Node *qual, Node *check, List *dpcontext,
					 Datum *values, bool *nulls)
{
	RewriteCtx	ctx = {funcs, 0, false, NIL};
	Datum	   *changes;
	int			i = 0;
	ListCell   *lc;

	nulls[0] = nulls[1] = true;
	nulls[2] = false;
	if (qual != NULL)
		values[0] = rewrite_tree(&ctx, qual, dpcontext, &nulls[0]);
	if (check != NULL)
		values[1] = rewrite_tree(&ctx, check, dpcontext, &nulls[1]);
	changes = palloc(sizeof(Datum) * (list_length(ctx.changes) + 1));
	foreach(lc, ctx.changes)
		changes[i++] = CStringGetTextDatum((const char *) lfirst(lc));
	values[2] = PointerGetDatum(construct_array(changes, i, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * oauth_rls._rewrite_policy(qual pg_node_tree, with_check pg_node_tree, relid oid)
 *   -> (new_qual text, new_check text, changes text[])
 *   Each expression rewritten, as SQL for ALTER POLICY, or NULL when it needs
 *   no change, and what was replaced.  One deparse context serves both.
 */
PG_FUNCTION_INFO_V1(oauth_rls_rewrite_policy);
Datum
oauth_rls_rewrite_policy(PG_FUNCTION_ARGS)
{
	Node	   *qual = tree_arg(fcinfo, 0);
	Node	   *check = tree_arg(fcinfo, 1);
	Oid			relid = PG_GETARG_OID(2);
	char	   *relname = get_rel_name(relid);
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("oauth_rls._rewrite_policy must be declared with OUT parameters")));
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	tupdesc = BlessTupleDesc(tupdesc);
	audit_rewrite_policy(audit_funcs(fcinfo), qual, check, deparse_context_for(relname, relid),
						 values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * The pg_policy rows of a table a snapshot sees, as tuple ids in index order
 * (by policy name).  CREATE, ALTER and DROP POLICY each leave a new tuple
 * version or none, so two lists differ exactly when the policies changed.
 */
static List *
policy_versions(Relation catalog, Oid relid, Snapshot snapshot)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *tids = NIL;

	ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(catalog, PolicyPolrelidPolnameIndexId, true, snapshot, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		ItemPointer tid = palloc(sizeof(ItemPointerData));

		ItemPointerCopy(&tuple->t_self, tid);
		tids = lappend(tids, tid);
	}
	systable_endscan(scan);
	return tids;
}

/*
 * oauth_rls._policies_changed(relid oid) -> boolean
 *   Whether the table's policies changed after the current statement's
 *   snapshot was taken.  Under REPEATABLE READ that snapshot may predate an
 *   ALTER POLICY committed before apply_rewrite() locked the table: a plan
 *   made from it would overwrite that change, and ALTER POLICY itself would
 *   not notice (DDL acts on the latest catalog rows).
 */
PG_FUNCTION_INFO_V1(oauth_rls_policies_changed);
Datum
oauth_rls_policies_changed(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	catalog = table_open(PolicyRelationId, AccessShareLock);
	Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
	List	   *seen = policy_versions(catalog, relid, GetActiveSnapshot());
	List	   *now = policy_versions(catalog, relid, latest);
	bool		changed = list_length(seen) != list_length(now);
	ListCell   *a;
	ListCell   *b;

	if (!changed)
		forboth(a, seen, b, now)
			if (!ItemPointerEquals((ItemPointer) lfirst(a), (ItemPointer) lfirst(b)))
				changed = true;
	UnregisterSnapshot(latest);
	table_close(catalog, AccessShareLock);
	PG_RETURN_BOOL(changed);
}
