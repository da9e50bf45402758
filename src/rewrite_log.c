/*
 * rewrite_log.c
 *      The log of apply_rewrite(), written by the extension only.
 *
 * revert_rewrite() turns log rows back into ALTER POLICY statements.  Were
 * the log writable by a role, that role would choose SQL for whoever reverts
 * (often a superuser) to run.  So no role but the table's owner (the
 * superuser that ran the install script) may insert into the log or update
 * what it holds; apply_rewrite() records through the functions below, which
 * read what they store from the catalog themselves and write it with the
 * log's owner's rights.  The caller must own the table the entry is about:
 * it could make that policy anything with ALTER POLICY already.  And
 * revert_rewrite() runs a statement only once oauth_rls._check_revert_ddl()
 * found it to be exactly one ALTER POLICY of the logged policy: a row forged
 * by a superuser can at most set that policy's expressions.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
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

typedef struct LogWriter
{
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
} LogWriter;

/* Connects to SPI as the log's owner, with search_path pinned. */
static void
log_writer_begin(LogWriter *w)
{
	Oid			logid = oauth_rls_relation_oid("rewrite_log");

	if (!OidIsValid(logid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table oauth_rls.rewrite_log does not exist")));
	GetUserIdAndSecContext(&w->save_userid, &w->save_sec_context);
	SetUserIdAndSecContext(oauth_rls_relation_owner(logid),
						   w->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	w->nestlevel = oauth_rls_spi_connect();
}

static void
log_writer_end(LogWriter *w)
{
	oauth_rls_spi_finish(w->nestlevel);
	SetUserIdAndSecContext(w->save_userid, w->save_sec_context);
}

/* The bigint in the first column of the only row of the last SPI query. */
static int64
spi_single_id(void)
{
	bool		isnull;
	Datum		id;

	if (SPI_processed != 1)
		return -1;
	id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? -1 : DatumGetInt64(id);
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
	static const char *policy_query =
		"INSERT INTO oauth_rls.rewrite_log (kind, tbl, policy_name, original_ddl, original_using,"
		"                                   original_check, applied_ddl) "
		"SELECT 'policy', p.polrelid, p.polname, oauth_rls._policy_ddl(p.oid), "
		"       pg_catalog.pg_get_expr(p.polqual, p.polrelid), "
		"       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), $3 "
		"  FROM pg_catalog.pg_policy p "
		" WHERE p.polrelid OPERATOR(pg_catalog.=) $1 AND p.polname OPERATOR(pg_catalog.=) $2 "
		"RETURNING id";
	static const char *guard_query =
		"INSERT INTO oauth_rls.rewrite_log (kind, tbl, applied_ddl) "
		"VALUES ('guard', $1, $3) RETURNING id";
	Oid			argtypes[3] = {OIDOID, NAMEOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *kind;
	bool		is_policy;
	LogWriter	w;
	int64		id;

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
	check_table_owner(PG_GETARG_OID(1));

	args[0] = PG_GETARG_DATUM(1);
	args[1] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[1] = PG_ARGISNULL(2) ? 'n' : ' ';
	args[2] = PG_GETARG_DATUM(3);

	log_writer_begin(&w);
	if (SPI_execute_with_args(is_policy ? policy_query : guard_query, 3, argtypes, args, nulls,
							  false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not write to oauth_rls.rewrite_log");
	id = spi_single_id();
	log_writer_end(&w);
	if (id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("policy \"%s\" for table \"%s\" does not exist",
						NameStr(*PG_GETARG_NAME(2)), get_rel_name(PG_GETARG_OID(1)))));
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
	static const char *entry_query =
		"SELECT l.xmin, l.tbl::pg_catalog.oid FROM oauth_rls.rewrite_log l "
		" WHERE l.id OPERATOR(pg_catalog.=) $1 AND l.kind OPERATOR(pg_catalog.=) 'policy'";
	static const char *update_query =
		"UPDATE oauth_rls.rewrite_log l "
		"   SET applied_using = pg_catalog.pg_get_expr(p.polqual, p.polrelid), "
		"       applied_check = pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) "
		"  FROM pg_catalog.pg_policy p "
		" WHERE l.id OPERATOR(pg_catalog.=) $1 "
		"   AND p.polrelid OPERATOR(pg_catalog.=) l.tbl::pg_catalog.oid "
		"   AND p.polname OPERATOR(pg_catalog.=) l.policy_name";
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {PG_GETARG_DATUM(0)};
	LogWriter	w;
	TransactionId xmin = InvalidTransactionId;
	Oid			relid = InvalidOid;
	uint64		updated;

	log_writer_begin(&w);
	if (SPI_execute_with_args(entry_query, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read oauth_rls.rewrite_log");
	if (SPI_processed == 1)
	{
		bool		isnull;

		xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
		relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
	}
	log_writer_end(&w);

	if (!TransactionIdIsValid(xmin) || !TransactionIdIsCurrentTransactionId(xmin))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rewrite log entry %lld is not a policy entry made by this transaction",
						(long long) PG_GETARG_INT64(0)),
				 errhint("Only apply_rewrite() records what it applied, in its own transaction.")));
	check_table_owner(relid);

	log_writer_begin(&w);
	if (SPI_execute_with_args(update_query, 1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not write to oauth_rls.rewrite_log");
	updated = SPI_processed;
	log_writer_end(&w);
	if (updated != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the policy of rewrite log entry %lld no longer exists",
						(long long) PG_GETARG_INT64(0))));
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
