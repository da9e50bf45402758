/*
 * audit_policies.c
 *      The policies of the audited tables with their facts and their
 *      rewrite, in one pass: oauth_rls._audit_policies().
 *
 * audit() used to read pg_policy per table, call _policy_facts() per policy
 * and _rewrite_policy() again for the policies with something to rewrite:
 * each call built its result descriptor, each tree was parsed twice, and
 * the executor kept a tuplestore per call.  Here each policy row is read
 * once by index, each tree is parsed once, and the facts and the rewrite
 * are computed from the same parsed trees; the rows go into one tuplestore.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_policy.h"
#include "miscadmin.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"

/*
 * The columns of _audit_policies(): the policy (POLICY_NATTS, see
 * policy_columns()), its facts, its rewrite.
 */
#define POLICY_NATTS 18
#define REWRITE_NATTS 2
#define AUDIT_POLICIES_NATTS (POLICY_NATTS + AUDIT_FACTS_NATTS + REWRITE_NATTS)

/* Guards are named so by guard(); the rewrite leaves them alone. */
#define GUARD_PREFIX "oauth_rls_guard_"

/* The table whose policies are read, and the API roles (InvalidOid: none). */
typedef struct AuditTable
{
	Oid			relid;
	Datum		nspname;		/* name */
	Datum		relname;		/* name */
	char	   *qname;			/* as format('%I.%I') spells it */
	Oid			anon;
	Oid			authenticated;
} AuditTable;

/* A pg_node_tree column of a pg_policy row, parsed, or NULL. */
static Node *
policy_tree(HeapTuple tuple, TupleDesc desc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);

	if (isnull)
		return NULL;
	return (Node *) stringToNode(TextDatumGetCString(d));
}

/*
 * The ALTER POLICY of the rewrite and what it replaces, as audit() shows
 * them, into values/nulls (both NULL when the rewrite changes nothing).
 */
static void
rewrite_columns(AuditFuncs *funcs, Form_pg_policy pol, const char *qname, Node *qual, Node *check,
				Datum *values, bool *nulls)
{
	Datum		rw[3];			/* new_qual, new_check, changes */
	bool		rw_null[3];
	StringInfoData ddl;
	ArrayType  *changes;
	Datum	   *elems;
	int			n;

	audit_rewrite_policy(funcs, qual, check, pol->polrelid, rw, rw_null);
	nulls[0] = nulls[1] = rw_null[0] && rw_null[1];
	if (nulls[0])
		return;
	initStringInfo(&ddl);
	appendStringInfo(&ddl, "ALTER POLICY %s ON %s", quote_identifier(NameStr(pol->polname)), qname);
	if (!rw_null[0])
		appendStringInfo(&ddl, " USING (%s)", TextDatumGetCString(rw[0]));
	if (!rw_null[1])
		appendStringInfo(&ddl, " WITH CHECK (%s)", TextDatumGetCString(rw[1]));
	appendStringInfoChar(&ddl, ';');
	values[0] = CStringGetTextDatum(ddl.data);

	resetStringInfo(&ddl);
	appendStringInfoString(&ddl, "replaces ");
	changes = DatumGetArrayTypeP(rw[2]);
	deconstruct_array(changes, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	for (int i = 0; i < n; i++)
		appendStringInfo(&ddl, "%s%s", i > 0 ? ", " : "", TextDatumGetCString(elems[i]));
	appendStringInfoString(&ddl, ": the same values, computed once per statement instead of once "
						   "per row, with no subquery added");
	values[1] = CStringGetTextDatum(ddl.data);
}

/* The elements of a policy's roles (never NULL, never null elements). */
static Datum *
role_oids(ArrayType *roles, int *n)
{
	Datum	   *elems;

	deconstruct_array(roles, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, NULL, n);
	return elems;
}

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The names of a policy's roles, sorted ('public' for PUBLIC): what
 * ARRAY(SELECT ... pg_get_userbyid(r)::text ... ORDER BY 1) gives, whose
 * collation is C (that of type name).
 */
static Datum
role_names(Datum *oids, int n)
{
	char	  **names = palloc(sizeof(char *) * (n + 1));
	Datum	   *elems = palloc(sizeof(Datum) * (n + 1));

	for (int i = 0; i < n; i++)
	{
		Oid			r = DatumGetObjectId(oids[i]);

		names[i] = r == ACL_ID_PUBLIC ? "public" : GetUserNameFromId(r, true);
		if (names[i] == NULL)
			names[i] = psprintf("unknown (OID=%u)", r);
	}
	qsort(names, n, sizeof(char *), cmp_cstring);
	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(names[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Whether role is subject to a policy for these roles: PUBLIC, the role,
 * or a role whose privileges it has (pg_has_role(role, r, 'USAGE')); with
 * direct_only, only PUBLIC or the role itself.
 */
static bool
subject_to(Datum *oids, int n, Oid role, bool direct_only)
{
	for (int i = 0; i < n; i++)
	{
		Oid			r = DatumGetObjectId(oids[i]);

		if (r == ACL_ID_PUBLIC)
			return true;
		if (!OidIsValid(role))
			continue;
		if (direct_only ? r == role : has_privs_of_role(role, r))
			return true;
	}
	return false;
}

/* The command a policy is for, as audit() names it, and the commands it covers. */
static void
command_columns(char polcmd, Datum *values)
{
	static const char *const all[] = {"select", "insert", "update", "delete"};
	const char *cmd;
	Datum		elems[4];
	int			n = 0;

	switch (polcmd)
	{
		case 'r':
			cmd = "select";
			break;
		case 'a':
			cmd = "insert";
			break;
		case 'w':
			cmd = "update";
			break;
		case 'd':
			cmd = "delete";
			break;
		default:
			cmd = "all";
			break;
	}
	values[0] = CStringGetTextDatum(cmd);
	for (int i = 0; i < 4; i++)
		if (strcmp(cmd, "all") == 0 || strcmp(cmd, all[i]) == 0)
			elems[n++] = CStringGetTextDatum(all[i]);
	values[1] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The policy's own columns: oid, polrelid, polname, polcmd, polpermissive,
 * polroles, has_qual, has_check, nspname, relname, qname, cmd, cmds,
 * role_names, anon_subject, authenticated_subject, for_api (anon or
 * authenticated named, or PUBLIC), guard_named.
 */
static void
policy_columns(const AuditTable *t, HeapTuple tuple, TupleDesc desc, Node *qual, Node *check,
			   Datum *values, bool *nulls)
{
	Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(tuple);
	bool		isnull;
	Datum		rolesd = heap_getattr(tuple, Anum_pg_policy_polroles, desc, &isnull);
	ArrayType  *roles;
	Datum	   *oids;
	int			n;

	/* polroles is never NULL (BKI_FORCE_NOT_NULL) */
	Assert(!isnull);
	roles = DatumGetArrayTypeP(rolesd);
	oids = role_oids(roles, &n);
	values[0] = ObjectIdGetDatum(pol->oid);
	values[1] = ObjectIdGetDatum(pol->polrelid);
	values[2] = NameGetDatum(&pol->polname);
	values[3] = CharGetDatum(pol->polcmd);
	values[4] = BoolGetDatum(pol->polpermissive);
	values[5] = PointerGetDatum(roles);
	values[6] = BoolGetDatum(qual != NULL);
	values[7] = BoolGetDatum(check != NULL);
	values[8] = t->nspname;
	values[9] = t->relname;
	values[10] = CStringGetTextDatum(t->qname);
	command_columns(pol->polcmd, values + 11);
	values[13] = role_names(oids, n);
	values[14] = BoolGetDatum(subject_to(oids, n, t->anon, false));
	values[15] = BoolGetDatum(subject_to(oids, n, t->authenticated, false));
	values[16] = BoolGetDatum(subject_to(oids, n, t->anon, true) ||
							  subject_to(oids, n, t->authenticated, true));
	values[17] = BoolGetDatum(strncmp(NameStr(pol->polname), GUARD_PREFIX,
									  strlen(GUARD_PREFIX)) == 0);
}

/* One policy's row of _audit_policies(), into values/nulls. */
static void
policy_row(AuditFuncs *funcs, const AuditTable *t, HeapTuple tuple, TupleDesc desc,
		   Datum *values, bool *nulls)
{
	Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(tuple);
	Node	   *qual = policy_tree(tuple, desc, Anum_pg_policy_polqual);
	Node	   *check = policy_tree(tuple, desc, Anum_pg_policy_polwithcheck);
	Datum	   *facts = values + POLICY_NATTS;
	bool	   *facts_null = nulls + POLICY_NATTS;
	ArrayType  *per_row;

	memset(nulls, 0, sizeof(bool) * AUDIT_POLICIES_NATTS);
	policy_columns(t, tuple, desc, qual, check, values, nulls);
	audit_policy_facts(funcs, qual, check, facts, facts_null);

	/*
	 * What audit() rewrites: a policy other than a guard with per-row calls
	 * or hand-written client_id reads (facts 0 and 5).  The trees are
	 * deparsed only then.
	 */
	per_row = DatumGetArrayTypeP(facts[0]);
	if (!DatumGetBool(values[17]) &&
		(ArrayGetNItems(ARR_NDIM(per_row), ARR_DIMS(per_row)) > 0 || DatumGetInt32(facts[5]) > 0))
		rewrite_columns(funcs, pol, t->qname, qual, check,
						values + POLICY_NATTS + AUDIT_FACTS_NATTS,
						nulls + POLICY_NATTS + AUDIT_FACTS_NATTS);
	else
		for (int i = 0; i < REWRITE_NATTS; i++)
			nulls[POLICY_NATTS + AUDIT_FACTS_NATTS + i] = true;
}

/* The policies of one table, in name order, appended to the result. */
static void
table_policies(AuditFuncs *funcs, Relation catalog, AuditTable *t, ReturnSetInfo *rsinfo,
			   MemoryContext rowcxt)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	HeapTuple	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(t->relid));
	Form_pg_class rel;
	char	   *nspname;
	NameData   *nsp;

	/* A table dropped meanwhile has no policies left to read. */
	if (!HeapTupleIsValid(classtup))
		return;
	rel = (Form_pg_class) GETSTRUCT(classtup);
	nspname = get_namespace_name(rel->relnamespace);
	if (nspname == NULL)
	{
		ReleaseSysCache(classtup);
		return;
	}
	/* a name datum points to NAMEDATALEN bytes */
	nsp = palloc0(sizeof(NameData));
	namestrcpy(nsp, nspname);
	t->nspname = NameGetDatum(nsp);
	t->relname = NameGetDatum(&rel->relname);
	t->qname = quote_qualified_identifier(nspname, NameStr(rel->relname));

	ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(t->relid));
	/* The statement's snapshot: what the SQL around this call sees. */
	scan = systable_beginscan(catalog, PolicyPolrelidPolnameIndexId, true, GetActiveSnapshot(),
							  1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Datum		values[AUDIT_POLICIES_NATTS];
		bool		nulls[AUDIT_POLICIES_NATTS];
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);

		policy_row(funcs, t, tuple, RelationGetDescr(catalog), values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	systable_endscan(scan);
	ReleaseSysCache(classtup);
}

/*
 * oauth_rls._audit_policies(tables oid[], anon oid, authenticated oid)
 *   -> SETOF (<the policy's columns, see policy_columns()>,
 *      <the columns of _policy_facts()>, rewrite_ddl, rewrite_note)
 *   Every policy of the given tables; anon and authenticated are the API
 *   roles' oids (NULL where a role does not exist).  rewrite_ddl is the
 *   ALTER POLICY that applies _rewrite_policy()'s result, rewrite_note what
 *   it replaces, for the policies audit() rewrites (not a guard, with
 *   per-row calls or client_id reads) where the rewrite changes something,
 *   else NULL.
 */
PG_FUNCTION_INFO_V1(oauth_rls_audit_policies);
Datum
oauth_rls_audit_policies(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AuditFuncs *funcs = audit_funcs(fcinfo);
	AuditTable	t = {0};
	ArrayType  *tables;
	Datum	   *relids;
	bool	   *relid_nulls;
	int			n;
	Relation	catalog;
	MemoryContext tablecxt;
	MemoryContext rowcxt;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (rsinfo->setDesc->natts != AUDIT_POLICIES_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("oauth_rls._audit_policies must return %d columns", AUDIT_POLICIES_NATTS)));
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	t.anon = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	t.authenticated = PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2);
	tables = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(tables, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &relids, &relid_nulls, &n);
	tablecxt = AllocSetContextCreate(CurrentMemoryContext, "oauth_rls audit table",
									 ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(tablecxt, "oauth_rls audit policy", ALLOCSET_DEFAULT_SIZES);
	catalog = table_open(PolicyRelationId, AccessShareLock);
	for (int i = 0; i < n; i++)
	{
		MemoryContext oldcxt;

		if (relid_nulls[i])
			continue;
		oldcxt = MemoryContextSwitchTo(tablecxt);
		t.relid = DatumGetObjectId(relids[i]);
		table_policies(funcs, catalog, &t, rsinfo, rowcxt);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextResetOnly(tablecxt);
	}
	table_close(catalog, AccessShareLock);
	MemoryContextDelete(tablecxt);
	return (Datum) 0;
}
