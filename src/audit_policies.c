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
#include "catalog/pg_policy.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "audit.h"

/* The columns of _audit_policies(): the policy, its facts, its rewrite. */
#define POLICY_NATTS 8
#define REWRITE_NATTS 2
#define AUDIT_POLICIES_NATTS (POLICY_NATTS + AUDIT_FACTS_NATTS + REWRITE_NATTS)

/* Guards are named so by guard(); the rewrite leaves them alone. */
#define GUARD_PREFIX "oauth_rls_guard_"

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

/* One policy's row of _audit_policies(), into values/nulls. */
static void
policy_row(AuditFuncs *funcs, HeapTuple tuple, TupleDesc desc, const char *qname,
		   Datum *values, bool *nulls)
{
	Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(tuple);
	Node	   *qual = policy_tree(tuple, desc, Anum_pg_policy_polqual);
	Node	   *check = policy_tree(tuple, desc, Anum_pg_policy_polwithcheck);
	Datum	   *facts = values + POLICY_NATTS;
	bool	   *facts_null = nulls + POLICY_NATTS;
	ArrayType  *per_row;
	bool		isnull;

	memset(nulls, 0, sizeof(bool) * AUDIT_POLICIES_NATTS);
	values[0] = ObjectIdGetDatum(pol->oid);
	values[1] = ObjectIdGetDatum(pol->polrelid);
	values[2] = NameGetDatum(&pol->polname);
	values[3] = CharGetDatum(pol->polcmd);
	values[4] = BoolGetDatum(pol->polpermissive);
	values[5] = heap_getattr(tuple, Anum_pg_policy_polroles, desc, &isnull);
	nulls[5] = isnull;
	values[6] = BoolGetDatum(qual != NULL);
	values[7] = BoolGetDatum(check != NULL);
	audit_policy_facts(funcs, qual, check, facts, facts_null);

	/*
	 * What audit() rewrites: a policy other than a guard with per-row calls
	 * or hand-written client_id reads (facts 0 and 5).  The trees are
	 * deparsed only then.
	 */
	per_row = DatumGetArrayTypeP(facts[0]);
	if (strncmp(NameStr(pol->polname), GUARD_PREFIX, strlen(GUARD_PREFIX)) != 0 &&
		(ArrayGetNItems(ARR_NDIM(per_row), ARR_DIMS(per_row)) > 0 || DatumGetInt32(facts[5]) > 0))
		rewrite_columns(funcs, pol, qname, qual, check,
						values + POLICY_NATTS + AUDIT_FACTS_NATTS,
						nulls + POLICY_NATTS + AUDIT_FACTS_NATTS);
	else
		for (int i = 0; i < REWRITE_NATTS; i++)
			nulls[POLICY_NATTS + AUDIT_FACTS_NATTS + i] = true;
}

/* The policies of one table, in name order, appended to the result. */
static void
table_policies(AuditFuncs *funcs, Relation catalog, Oid relid, ReturnSetInfo *rsinfo,
			   MemoryContext rowcxt)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *relname = get_rel_name(relid);
	char	   *qname;

	/* A table dropped meanwhile has no policies left to read. */
	if (relname == NULL)
		return;
	/* as format('%I.%I') spells it */
	qname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname);
	ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	/* The statement's snapshot: what the SQL around this call sees. */
	scan = systable_beginscan(catalog, PolicyPolrelidPolnameIndexId, true, GetActiveSnapshot(),
							  1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Datum		values[AUDIT_POLICIES_NATTS];
		bool		nulls[AUDIT_POLICIES_NATTS];
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);

		policy_row(funcs, tuple, RelationGetDescr(catalog), qname, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	systable_endscan(scan);
}

/*
 * oauth_rls._audit_policies(tables oid[])
 *   -> SETOF (oid, polrelid, polname, polcmd, polpermissive, polroles,
 *      has_qual, has_check, <the columns of _policy_facts()>,
 *      rewrite_ddl, rewrite_note)
 *   Every policy of the given tables.  rewrite_ddl is the ALTER POLICY that
 *   applies _rewrite_policy()'s result, rewrite_note what it replaces, for
 *   the policies audit() rewrites (not a guard, with per-row calls or
 *   client_id reads) where the rewrite changes something, else NULL.
 */
PG_FUNCTION_INFO_V1(oauth_rls_audit_policies);
Datum
oauth_rls_audit_policies(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AuditFuncs *funcs = audit_funcs(fcinfo);
	ArrayType  *tables;
	Datum	   *relids;
	bool	   *relid_nulls;
	int			n;
	Relation	catalog;
	MemoryContext rowcxt;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (rsinfo->setDesc->natts != AUDIT_POLICIES_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("oauth_rls._audit_policies must return %d columns", AUDIT_POLICIES_NATTS)));
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	tables = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(tables, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &relids, &relid_nulls, &n);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "oauth_rls audit policy",
								   ALLOCSET_DEFAULT_SIZES);
	catalog = table_open(PolicyRelationId, AccessShareLock);
	for (int i = 0; i < n; i++)
		if (!relid_nulls[i])
			table_policies(funcs, catalog, DatumGetObjectId(relids[i]), rsinfo, rowcxt);
	table_close(catalog, AccessShareLock);
	MemoryContextDelete(rowcxt);
	return (Datum) 0;
}
