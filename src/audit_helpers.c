/*
 * audit_helpers.c
 *      Reading the functions a policy calls (helpers such as is_member_of(),
 *      has_role(), authorize()), so that the audit reports what they read as
 *      if it were in the policy.
 *
 * SQL bodies are read fully: the stored tree of a BEGIN ATOMIC body, or the
 * text parsed and analysed as PostgreSQL would when it runs the function
 * (its own SET search_path, else the one of an API request), without the
 * rewriter (which would apply row level security as the auditing role).
 * plpgsql bodies are read as far as their text tells: the core SQL scanner
 * lists the functions they call and the tables they name; such a helper is
 * reported as read in part.  A body that cannot be read (an error while
 * analysing it) is reported the same way.  Each function is read once per
 * audit; a call cycle ends where it starts.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "commands/proclang.h"
#include "executor/functions.h"
#include "nodes/makefuncs.h"
#include "parser/analyze.h"
#include "parser/scanner.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "audit.h"
#include "common.h"

/* The search_path an API request resolves names with (PostgREST's default). */
#define REQUEST_SEARCH_PATH "public, extensions"

typedef struct BodyRead
{
	AuditFuncs *funcs;
	HeapTuple	proc;
	HelperFacts *facts;
} BodyRead;

/* Whether funcid is a function of the user's whose body the audit reads. */
static bool
is_user_function(Form_pg_proc proc)
{
	Oid			nsp = proc->pronamespace;
	char	   *nspname;

	if (proc->prolang != SQLlanguageId &&
		proc->prolang != get_language_oid("plpgsql", true))
		return false;
	if (nsp == PG_CATALOG_NAMESPACE || IsToastNamespace(nsp))
		return false;
	nspname = get_namespace_name(nsp);
	if (nspname == NULL || strcmp(nspname, OAUTH_RLS_SCHEMA) == 0 ||
		strcmp(nspname, "information_schema") == 0)
		return false;
	/* Functions of extensions are the extension's business. */
	return getExtensionOfObject(ProcedureRelationId, proc->oid) == InvalidOid;
}

/* Sets search_path as the function runs with it: its own SET, else a request's. */
static void
pin_function_search_path(HeapTuple proc)
{
	bool		isnull;
	Datum		config = SysCacheGetAttr(PROCOID, proc, Anum_pg_proc_proconfig, &isnull);
	const char *path = REQUEST_SEARCH_PATH;

	if (!isnull)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(config), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			char	   *item = nulls[i] ? NULL : TextDatumGetCString(elems[i]);

			if (item != NULL && strncmp(item, "search_path=", strlen("search_path=")) == 0)
				path = item + strlen("search_path=");
		}
	}
	(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* The analysed queries of a SQL function's body. */
static List *
sql_body_queries(HeapTuple proc)
{
	bool		isnull;
	Datum		body = SysCacheGetAttr(PROCOID, proc, Anum_pg_proc_prosqlbody, &isnull);
	List	   *queries = NIL;
	char	   *src;
	SQLFunctionParseInfoPtr pinfo;
	ListCell   *lc;

	if (!isnull)
	{
		Node	   *n = stringToNode(TextDatumGetCString(body));

		return IsA(n, List) ? linitial_node(List, castNode(List, n)) : list_make1(n);
	}
	src = TextDatumGetCString(SysCacheGetAttr(PROCOID, proc, Anum_pg_proc_prosrc, &isnull));
	pinfo = prepare_sql_fn_parse_info(proc, NULL, InvalidOid);
	foreach(lc, pg_parse_query(src))
		queries = lappend(queries,
						  parse_analyze_withcb(lfirst_node(RawStmt, lc), src,
											   (ParserSetupHook) sql_fn_parser_setup, pinfo, NULL));
	return queries;
}

/*
 * The expression a one-statement SQL body returns, SELECT <expr> with no
 * FROM: its outcome is tested for dependence on the tier like a policy's.
 */
static Node *
sql_body_result(List *queries)
{
	Query	   *q;

	if (list_length(queries) != 1 || !IsA(linitial(queries), Query))
		return NULL;
	q = linitial_node(Query, queries);
	if (q->commandType != CMD_SELECT || q->rtable != NIL || list_length(q->targetList) != 1 ||
		q->jointree == NULL || q->jointree->quals != NULL)
		return NULL;
	return (Node *) linitial_node(TargetEntry, q->targetList)->expr;
}

/*
 * The core scanner's token numbers for an identifier, a string constant and
 * the lowest keyword.  They come from the grammar's generated header, which
 * PostgreSQL 16 and later no longer install, so they are learnt once from
 * the scanner itself (an identifier, a string, and ScanKeywordTokens).
 */
static int	tok_ident = -1;
static int	tok_sconst = -1;
static int	tok_first_keyword = -1;

static void
learn_token_numbers(void)
{
	core_yy_extra_type extra;
	core_yyscan_t scanner;
	core_YYSTYPE value;
	YYLTYPE		location;

	if (tok_ident >= 0)
		return;
	scanner = scanner_init("x 'y'", &extra, &ScanKeywords, ScanKeywordTokens);
	tok_ident = core_yylex(&value, &location, scanner);
	tok_sconst = core_yylex(&value, &location, scanner);
	scanner_finish(scanner);
	tok_first_keyword = PG_INT32_MAX;
	for (int i = 0; i < ScanKeywords.num_keywords; i++)
		tok_first_keyword = Min(tok_first_keyword, (int) ScanKeywordTokens[i]);
}

/*
 * One name of a plpgsql body, as the core scanner gives it: an identifier or
 * a keyword (function names such as role or left are keywords), lower-cased.
 */
static const char *
token_name(int token, core_YYSTYPE *value)
{
	if (token == tok_ident)
		return value->str;
	if (token >= tok_first_keyword && token != tok_sconst && value->keyword != NULL)
		return value->keyword;
	return NULL;
}

/* Notes a function a plpgsql body calls by name (every candidate overload). */
static void
plpgsql_note_call(BodyRead *r, List *names, bool *reads_claims)
{
	FuncCandidateList c;

	for (c = FuncnameGetCandidates(names, -1, NIL, false, false, false, true); c; c = c->next)
	{
		const AuditFunc *f = audit_find_func(r->funcs, c->oid);
		HelperFacts *h;

		if (f != NULL)
		{
			if (f->flags & AUDIT_FN_CLIENT)
				r->facts->client_aware = true;
			if (f->flags & (AUDIT_FN_CLAIMS | AUDIT_FN_CLAIM | AUDIT_FN_SETTING))
				*reads_claims = true;
			continue;
		}
		h = audit_helper_facts(r->funcs, c->oid);
		if (h == NULL)
			continue;
		r->facts->client_aware |= h->client_aware;
		r->facts->user_metadata |= h->user_metadata;
		r->facts->read_fully &= h->read_fully;
		if (!h->security_definer)
			r->facts->tables = list_concat_unique_oid(r->facts->tables, h->tables);
		r->facts->helpers = list_concat_unique_oid(r->facts->helpers, h->helpers);
	}
}

/* Whether a one-word name is a keyword after which a table's name comes. */
static bool
precedes_relation(List *names)
{
	const char *w;

	if (list_length(names) != 1)
		return false;
	w = strVal(linitial(names));
	return strcmp(w, "from") == 0 || strcmp(w, "join") == 0 || strcmp(w, "update") == 0 ||
		strcmp(w, "into") == 0;
}

/* Notes a table a plpgsql body names, if the name is one. */
static void
plpgsql_note_relation(BodyRead *r, List *names)
{
	Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
	MemoryContext oldcxt;

	if (!OidIsValid(relid))
		return;
	oldcxt = MemoryContextSwitchTo(r->funcs->mcxt);
	r->facts->tables = list_append_unique_oid(r->facts->tables, relid);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * A plpgsql body, read as far as its text tells: the functions it calls
 * (a name followed by "("), the tables it names after FROM, JOIN, UPDATE and
 * INTO, and the claim keys it spells as string constants.  Names are
 * resolved under the function's search_path (pinned by the caller).
 */
static void
read_plpgsql_body(BodyRead *r)
{
	bool		isnull;
	char	   *src = TextDatumGetCString(SysCacheGetAttr(PROCOID, r->proc, Anum_pg_proc_prosrc,
														  &isnull));
	core_yy_extra_type extra;
	core_yyscan_t scanner;
	core_YYSTYPE value;
	YYLTYPE		location;
	List	   *names = NIL;	/* the qualified name being read */
	bool		expect_part = false;	/* after a "." */
	bool		names_relation = false; /* it follows FROM / JOIN / ... */
	bool		reads_claims = false;
	bool		says_client_id = false;
	bool		says_user_metadata = false;
	int			token;

	learn_token_numbers();
	scanner = scanner_init(src, &extra, &ScanKeywords, ScanKeywordTokens);
	do
	{
		const char *name;
		bool		was_relation_keyword = false;

		token = core_yylex(&value, &location, scanner);
		name = token == 0 ? NULL : token_name(token, &value);
		if (token == tok_sconst)
		{
			says_client_id |= strcmp(value.str, "client_id") == 0;
			says_user_metadata |= strcmp(value.str, "user_metadata") == 0;
		}
		if (name != NULL && names != NIL && expect_part)
		{
			names = lappend(names, makeString(pstrdup(name)));
			expect_part = false;
			continue;
		}
		if (token == '.' && names != NIL && !expect_part)
		{
			expect_part = true;
			continue;
		}
		/* The name read so far ends here. */
		if (names != NIL && list_length(names) <= 3)
		{
			if (token == '(')
				plpgsql_note_call(r, names, &reads_claims);
			else if (names_relation)
				plpgsql_note_relation(r, names);
			was_relation_keyword = precedes_relation(names);
		}
		names = NIL;
		expect_part = false;
		if (name != NULL)
		{
			says_user_metadata |= strcmp(name, "raw_user_meta_data") == 0;
			names = list_make1(makeString(pstrdup(name)));
			names_relation = was_relation_keyword;
		}
	} while (token != 0);
	scanner_finish(scanner);
	if (reads_claims && says_client_id)
		r->facts->client_aware = true;
	if (reads_claims && says_user_metadata)
		r->facts->user_metadata = true;
	r->facts->read_fully = false;
}

/* Reads the body (in a subtransaction: an error means "could not be read"). */
static void
read_body(void *arg)
{
	BodyRead   *r = (BodyRead *) arg;
	Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(r->proc);
	int			nestlevel = NewGUCNestLevel();

	pin_function_search_path(r->proc);
	if (proc->prolang == SQLlanguageId)
	{
		List	   *queries = sql_body_queries(r->proc);

		audit_walk_body(r->funcs, queries, sql_body_result(queries), r->facts);
	}
	else
		read_plpgsql_body(r);
	AtEOXact_GUC(true, nestlevel);
}

HelperFacts *
audit_helper_facts(AuditFuncs *funcs, Oid funcid)
{
	HelperFacts *facts;
	HeapTuple	proc;
	bool		found;
	BodyRead	r;
	MemoryContext oldcxt;

	if (funcs->helpers == NULL)
	{
		HASHCTL		ctl = {.keysize = sizeof(Oid), .entrysize = sizeof(HelperFacts),
		.hcxt = funcs->mcxt};

		funcs->helpers = hash_create("oauth_rls audit helpers", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	facts = hash_search(funcs->helpers, &funcid, HASH_ENTER, &found);
	if (found)
		return facts->is_helper ? facts : NULL;
	memset(((char *) facts) + sizeof(Oid), 0, sizeof(HelperFacts) - sizeof(Oid));
	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(proc))
		return NULL;
	if (!is_user_function((Form_pg_proc) GETSTRUCT(proc)))
	{
		ReleaseSysCache(proc);
		return NULL;
	}
	facts->is_helper = true;
	facts->read_fully = true;
	facts->security_definer = ((Form_pg_proc) GETSTRUCT(proc))->prosecdef;
	oldcxt = MemoryContextSwitchTo(funcs->mcxt);
	facts->helpers = list_make1_oid(funcid);
	MemoryContextSwitchTo(oldcxt);
	r.funcs = funcs;
	r.proc = proc;
	r.facts = facts;
	/* No subtransaction in a parallel worker: say it could not be read. */
	if (IsInParallelMode() || oauth_rls_try_in_subtransaction(read_body, &r) != NULL)
		facts->read_fully = false;
	ReleaseSysCache(proc);
	oldcxt = MemoryContextSwitchTo(funcs->mcxt);
	facts->tables = list_copy(facts->tables);
	facts->helpers = list_copy(facts->helpers);
	MemoryContextSwitchTo(oldcxt);
	facts->done = true;
	return facts;
}
