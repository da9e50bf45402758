/*
 * rewrite_log.c
 *      The log of apply_rewrite(), written by the extension only.
 *
 * revert_rewrite() turns log rows back into ALTER POLICY statements.  Were
 * the log writable by a role, that role would choose SQL for whoever reverts
 * (often a superuser) to run.  So no role but the table's owner (the
 * superuser that ran the install script) may insert into the log or update
 * what it holds; apply_rewrite() records through the functions below, which
 * read what they store from the catalog themselves and write the log's heap
 * directly, by oid: no name is resolved with raised rights (the installer
 * owns schema oauth_rls and could put a look-alike table under that name).
 * The caller must own the table the entry is about: it could make that
 * policy anything with ALTER POLICY already.  And revert_rewrite() runs a
 * statement only once oauth_rls._check_revert_ddl() found it to be exactly
 * one ALTER POLICY of the logged policy: a row forged by a superuser can at
 * most set that policy's expressions.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "common.h"
#include "invalidation.h"
#include "rewrite_log.h"

/* Raises unless the current role owns the table (ALTER POLICY needs that too). */
static void
check_table_owner(Oid relid)
{
	bool		owner;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table with oid %u does not exist", relid)));
#if PG_VERSION_NUM >= 160000
	owner = object_ownercheck(RelationRelationId, relid, GetUserId());
#else
	owner = pg_class_ownercheck(relid, GetUserId());
#endif
	if (!owner)
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
}

/* The extension's own relation (by the extension's schema), or an error. */
static Oid
log_relation_oid(const char *relname)
{
	Oid			relid = oauth_rls_relation_oid(relname);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation oauth_rls.%s does not exist", relname)));
	return relid;
}

static AttrNumber
log_attnum(Relation rel, const char *name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "table oauth_rls.rewrite_log has no column \"%s\"", name);
	return attnum;
}

/* A policy's current expressions, deparsed as apply_rewrite() always did. */
typedef struct PolicyNow
{
	Oid			oid;			/* InvalidOid: no such policy */
	text	   *qual;			/* NULL when absent */
	text	   *check;
} PolicyNow;

static PolicyNow
read_policy(Oid relid, const char *polname)
{
	PolicyNow	result = {InvalidOid, NULL, NULL};
	Relation	pg_policy = table_open(PolicyRelationId, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	NameData	name;

	namestrcpy(&name, polname);
	ScanKeyInit(&keys[0], Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_policy_polname, BTEqualStrategyNumber, F_NAMEEQ,
				NameGetDatum(&name));
	scan = systable_beginscan(pg_policy, PolicyPolrelidPolnameIndexId, true, NULL, 2, keys);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(pg_policy);
		bool		isnull;
		Datum		qual = heap_getattr(tuple, Anum_pg_policy_polqual, desc, &isnull);
		int			nestlevel = oauth_rls_pin_search_path();

		result.oid = ((Form_pg_policy) GETSTRUCT(tuple))->oid;
		if (!isnull)
			result.qual = DatumGetTextPP(DirectFunctionCall2(pg_get_expr, qual,
															 ObjectIdGetDatum(relid)));
		qual = heap_getattr(tuple, Anum_pg_policy_polwithcheck, desc, &isnull);
		if (!isnull)
			result.check = DatumGetTextPP(DirectFunctionCall2(pg_get_expr, qual,
															  ObjectIdGetDatum(relid)));
		oauth_rls_unpin_search_path(nestlevel);
	}
	systable_endscan(scan);
	table_close(pg_policy, AccessShareLock);
	return result;
}

/*
 * The complete CREATE POLICY of a policy, from oauth_rls._policy_ddl(), run
 * with the caller's own rights: whatever that name leads to, it runs as the
 * caller, and its text is only shown, never executed.
 */
static text *
policy_ddl(Oid policy)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(policy)};
	MemoryContext callercxt = CurrentMemoryContext;
	int			nestlevel = oauth_rls_spi_connect();
	text	   *ddl = NULL;
	bool		isnull;
	Datum		d;

	if (SPI_execute_with_args("SELECT oauth_rls._policy_ddl($1)", 1, argtypes, args, NULL,
							  true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the definition of policy %u", policy);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callercxt);

		ddl = DatumGetTextPCopy(d);
		MemoryContextSwitchTo(spicxt);
	}
	oauth_rls_spi_finish(nestlevel);
	return ddl;
}

static void
set_text(Datum *values, bool *nulls, AttrNumber attnum, text *value)
{
	values[attnum - 1] = PointerGetDatum(value);
	nulls[attnum - 1] = value == NULL;
}

/*
 * _rewrite_log_add(kind, relid, policy_name, applied_ddl) -> id.  For a
 * policy, the original definition and expressions are read from pg_policy
 * now, before apply_rewrite() alters it; applied_ddl is what it will run,
 * kept for the record and never executed.
 */
PG_FUNCTION_INFO_V1(oauth_rls_rewrite_log_add);
Datum
oauth_rls_rewrite_log_add(PG_FUNCTION_ARGS)
{
	char	   *kind;
	bool		is_policy;
	Oid			relid;
	PolicyNow	policy = {InvalidOid, NULL, NULL};
	text	   *original_ddl = NULL;
	Relation	rel;
	Datum	   *values;
	bool	   *nulls;
	int64		id;
	NameData	polname;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("oauth_rls._rewrite_log_add: kind, table and applied_ddl must not be NULL")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	is_policy = strcmp(kind, "policy") == 0;
	if (!is_policy && strcmp(kind, "guard") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("oauth_rls._rewrite_log_add: kind must be 'policy' or 'guard'")));
	if (is_policy && PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("oauth_rls._rewrite_log_add: a policy entry needs the policy's name")));
	relid = PG_GETARG_OID(1);
	check_table_owner(relid);
	if (is_policy)
	{
		namestrcpy(&polname, NameStr(*PG_GETARG_NAME(2)));
		policy = read_policy(relid, NameStr(polname));
		if (!OidIsValid(policy.oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("policy \"%s\" for table \"%s\" does not exist",
							NameStr(polname), get_rel_name(relid))));
		original_ddl = policy_ddl(policy.oid);
	}

	rel = table_open(log_relation_oid("rewrite_log"), RowExclusiveLock);
	values = palloc0(sizeof(Datum) * RelationGetDescr(rel)->natts);
	nulls = palloc(sizeof(bool) * RelationGetDescr(rel)->natts);
	memset(nulls, true, sizeof(bool) * RelationGetDescr(rel)->natts);

	id = nextval_internal(log_relation_oid("rewrite_log_id_seq"), false);
	values[log_attnum(rel, "id") - 1] = Int64GetDatum(id);
	nulls[log_attnum(rel, "id") - 1] = false;
	values[log_attnum(rel, "applied_at") - 1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	nulls[log_attnum(rel, "applied_at") - 1] = false;
	set_text(values, nulls, log_attnum(rel, "kind"), cstring_to_text(kind));
	values[log_attnum(rel, "tbl") - 1] = ObjectIdGetDatum(relid);
	nulls[log_attnum(rel, "tbl") - 1] = false;
	if (is_policy)
	{
		values[log_attnum(rel, "policy_name") - 1] = NameGetDatum(&polname);
		nulls[log_attnum(rel, "policy_name") - 1] = false;
		set_text(values, nulls, log_attnum(rel, "original_ddl"), original_ddl);
		set_text(values, nulls, log_attnum(rel, "original_using"), policy.qual);
		set_text(values, nulls, log_attnum(rel, "original_check"), policy.check);
	}
	set_text(values, nulls, log_attnum(rel, "applied_ddl"), PG_GETARG_TEXT_PP(3));

	/* The log's only index is its primary key: the catalog routine fits. */
	CatalogTupleInsert(rel, heap_form_tuple(RelationGetDescr(rel), values, nulls));
	table_close(rel, RowExclusiveLock);
	CommandCounterIncrement();
	PG_RETURN_INT64(id);
}

/*
 * _rewrite_log_applied(id): records the expressions a policy entry's policy
 * has now, once apply_rewrite() altered it, so that revert_rewrite() can
 * tell a later edit.  Only for an entry this transaction made: a later call
 * could otherwise pass a newer definition off as the rewrite's.
 */
PG_FUNCTION_INFO_V1(oauth_rls_rewrite_log_applied);
Datum
oauth_rls_rewrite_log_applied(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Relation	rel = table_open(log_relation_oid("rewrite_log"), RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	id_att = log_attnum(rel, "id");
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, NULL);
	HeapTuple	tuple;
	HeapTuple	found = NULL;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, id_att, desc, &isnull);

		if (!isnull && DatumGetInt64(d) == id)
		{
			found = heap_copytuple(tuple);
			break;
		}
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);

	if (found == NULL || !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(found->t_data)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rewrite log entry %lld is not a policy entry made by this transaction",
						(long long) id),
				 errhint("Only apply_rewrite() records what it applied, in its own transaction.")));
	{
		bool		isnull;
		Datum		kind = heap_getattr(found, log_attnum(rel, "kind"), desc, &isnull);
		Oid			relid = DatumGetObjectId(heap_getattr(found, log_attnum(rel, "tbl"), desc, &isnull));
		Datum		polname = heap_getattr(found, log_attnum(rel, "policy_name"), desc, &isnull);
		PolicyNow	policy;
		Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
		bool	   *nulls = palloc0(sizeof(bool) * desc->natts);
		bool	   *replace = palloc0(sizeof(bool) * desc->natts);

		if (isnull || strcmp(TextDatumGetCString(kind), "policy") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("rewrite log entry %lld is not a policy entry made by this transaction",
							(long long) id)));
		check_table_owner(relid);
		policy = read_policy(relid, NameStr(*DatumGetName(polname)));
		if (!OidIsValid(policy.oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the policy of rewrite log entry %lld no longer exists", (long long) id)));
		set_text(values, nulls, log_attnum(rel, "applied_using"), policy.qual);
		set_text(values, nulls, log_attnum(rel, "applied_check"), policy.check);
		replace[log_attnum(rel, "applied_using") - 1] = true;
		replace[log_attnum(rel, "applied_check") - 1] = true;
		CatalogTupleUpdate(rel, &found->t_self, heap_modify_tuple(found, desc, values, nulls, replace));
	}
	table_close(rel, RowExclusiveLock);
	CommandCounterIncrement();
	PG_RETURN_VOID();
}

/*
 * _check_revert_ddl(ddl, relid, policy_name): raises unless ddl is exactly
 * one ALTER POLICY policy_name ON <schema>.<table of relid>, with no TO
 * clause.  Such a statement can only set that policy's expressions; nothing
 * in a log row can make revert_rewrite() run anything else.
 */
typedef struct ParseArgs
{
	const char *ddl;
	List	   *parsed;
} ParseArgs;

static void
parse_cb(void *arg)
{
	ParseArgs  *a = (ParseArgs *) arg;

	a->parsed = raw_parser(a->ddl, RAW_PARSE_DEFAULT);
}

PG_FUNCTION_INFO_V1(oauth_rls_check_revert_ddl);
Datum
oauth_rls_check_revert_ddl(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(1);
	Name		policy = PG_GETARG_NAME(2);
	ParseArgs	args = {text_to_cstring(PG_GETARG_TEXT_PP(0)), NIL};
	List	   *parsed = NIL;
	AlterPolicyStmt *stmt = NULL;

	/* A syntax error is one more sign of a forged row, refused the same way. */
	if (oauth_rls_try_in_subtransaction(parse_cb, &args) == NULL)
		parsed = args.parsed;
	if (list_length(parsed) == 1 && IsA(linitial_node(RawStmt, parsed)->stmt, AlterPolicyStmt))
		stmt = (AlterPolicyStmt *) linitial_node(RawStmt, parsed)->stmt;
	if (stmt == NULL || stmt->roles != NIL || stmt->table == NULL ||
		stmt->table->schemaname == NULL || stmt->table->catalogname != NULL ||
		strcmp(stmt->policy_name, NameStr(*policy)) != 0 ||
		RangeVarGetRelid(stmt->table, NoLock, true) != relid)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("revert_rewrite: the rewrite log entry for policy \"%s\" on %s does not restore that policy alone",
						NameStr(*policy), get_rel_name(relid)),
				 errdetail("The statement made from oauth_rls.rewrite_log is not a single ALTER POLICY of that policy; the log was altered."),
				 errhint("Restore the policy by hand, and mark the log entry reverted (oauth_rls.rewrite_log.reverted_at).")));
	PG_RETURN_VOID();
}
