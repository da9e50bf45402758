/*
 * audit_access.c
 *      Which commands an API role may run on a relation, for the audit:
 *      oauth_rls._api_commands().
 *
 * audit() asks, for every audited relation and each of anon and
 * authenticated, whether the role may use the schema and holds a table or
 * column privilege for SELECT, INSERT, UPDATE and DELETE.  Through
 * has_schema_privilege(), has_table_privilege() and
 * has_any_column_privilege() that took a dozen calls per relation, each
 * parsing its privilege string and reading the relation's ACL again; here
 * it is one call that reads each ACL once and answers with a bit mask.
 */
#include "postgres.h"

#include "catalog/pg_namespace.h"
#include "fmgr.h"
#include "utils/acl.h"
#include "utils/syscache.h"

#include "audit.h"


static const struct
{
	int			bit;
	AclMode		mode;
}			api_commands[] = {
	{AUDIT_CMD_SELECT, ACL_SELECT},
	{AUDIT_CMD_INSERT, ACL_INSERT},
	{AUDIT_CMD_UPDATE, ACL_UPDATE},
	{AUDIT_CMD_DELETE, ACL_DELETE},
};

/* has_schema_privilege(role, nsp, 'USAGE'), false for a dropped schema. */
static bool
schema_usage(Oid nsp, Oid role)
{
	if (!SearchSysCacheExists1(NAMESPACEOID, ObjectIdGetDatum(nsp)))
		return false;
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(NamespaceRelationId, nsp, role, ACL_USAGE) == ACLCHECK_OK;
#else
	return pg_namespace_aclcheck(nsp, role, ACL_USAGE) == ACLCHECK_OK;
#endif
}

/*
 * The commands role holds on the relation: a table privilege, or for
 * SELECT, INSERT and UPDATE a privilege on any column (what
 * has_table_privilege() and has_any_column_privilege() answer).
 */
static int
relation_commands(Oid relid, Oid role)
{
	AclMode		all = ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE;
	AclMode		held = pg_class_aclmask(relid, role, all, ACLMASK_ALL);
	AclMode		columns = (ACL_SELECT | ACL_INSERT | ACL_UPDATE) & ~held;
	int			result = 0;

	/* One pass over the columns finds none in the common case. */
	if (columns != 0 &&
		pg_attribute_aclcheck_all(relid, role, columns, ACLMASK_ANY) == ACLCHECK_OK)
	{
		for (size_t i = 0; i < lengthof(api_commands); i++)
			if ((columns & api_commands[i].mode) &&
				pg_attribute_aclcheck_all(relid, role, api_commands[i].mode,
										  ACLMASK_ANY) == ACLCHECK_OK)
				held |= api_commands[i].mode;
	}
	for (size_t i = 0; i < lengthof(api_commands); i++)
		if (held & api_commands[i].mode)
			result |= api_commands[i].bit;
	return result;
}

/*
 * oauth_rls._api_commands(relid oid, nsp oid, role oid) -> integer
 *   The commands role may run on the relation in schema nsp, as bits
 *   (1 select, 2 insert, 4 update, 8 delete): none without USAGE on the
 *   schema, and none for a relation or schema dropped meanwhile.
 */
PG_FUNCTION_INFO_V1(oauth_rls_api_commands);
Datum
oauth_rls_api_commands(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(audit_api_commands(PG_GETARG_OID(0), PG_GETARG_OID(1), PG_GETARG_OID(2)));
}

/* See audit.h. */
int
audit_api_commands(Oid relid, Oid nsp, Oid role)
{
	if (!OidIsValid(role) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) ||
		!schema_usage(nsp, role))
		return 0;
	return relation_commands(relid, role);
}
