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
 *
 * What audit() adds up per table is added up here too, from the table's
 * policies while they are at hand: one summary row per table (is_table)
 * follows its policies' rows.  It holds the counts and names the table
 * findings print, and which OAuth clients' requests no policy limits
 * (NOT_CLIENT_AWARE), which took audit() a join of every policy with every
 * API role and command, and three sorts per table.
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
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"

/*
 * The columns of _audit_policies(): the policy (POLICY_NATTS, see
 * policy_columns()), its facts, its rewrite, then shares_command and the
 * table summary's (TABLE_NATTS, see table_row()).
 */
#define POLICY_NATTS 18
#define REWRITE_NATTS 2
#define FACTS_AT POLICY_NATTS
#define REWRITE_AT (FACTS_AT + AUDIT_FACTS_NATTS)
#define SHARES_AT (REWRITE_AT + REWRITE_NATTS)
#define TABLE_AT (SHARES_AT + 1)
#define TABLE_NATTS 10
#define FLAGS_AT (TABLE_AT + TABLE_NATTS)	/* has_per_row, has_helpers, has_unread */
#define FLAGS_NATTS 3
#define TEXTS_AT (FLAGS_AT + FLAGS_NATTS)	/* see finding_texts(), table_texts() */
#define TEXTS_NATTS 5
#define AUDIT_POLICIES_NATTS (TEXTS_AT + TEXTS_NATTS)

/*
 * The order _audit_policies() returns them in, by the numbers above.
 * audit() filters every policy row on the first ones (each finding reads
 * them all), and a stored row is read up to the last column asked for:
 * the columns asked for in filters come first, the long ones last.
 */
static const int output_order[AUDIT_POLICIES_NATTS] = {
	34, 17, 4, 27, 20, 33, 16, 23, 44, 45, 46, 19,	/* is_table, flags */
	1, 0, 2, 3, 11, 12, 5, 6, 7, 21, 22, 24, 25, 14, 15,	/* scalars */
	8, 9, 10, 13, 18, 26, 28, 29, 30, 31, 32,	/* names, arrays, rewrite */
	35, 36, 37, 38, 39, 40, 41, 42, 43,	/* table summary */
	47, 48, 49, 50, 51			/* finding texts */
};

/* column numbers within the policy's own columns and its facts */
#define COL_NSPNAME 8
#define COL_RELNAME 9
#define COL_QNAME 10
#define COL_GUARD_NAMED 17
#define FACT_PER_ROW 0
#define FACT_CLIENT_AWARE 1
#define FACT_JWT_CLIENT 5
#define FACT_HELPERS 10
#define FACT_HELPERS_UNREAD 11

/* The commands as audit() lists them, with their bits. */
static const struct
{
	const char *name;
	int			bit;
}			commands[] = {
	{"select", AUDIT_CMD_SELECT},
	{"insert", AUDIT_CMD_INSERT},
	{"update", AUDIT_CMD_UPDATE},
	{"delete", AUDIT_CMD_DELETE},
};
#define ALL_COMMANDS (AUDIT_CMD_SELECT | AUDIT_CMD_INSERT | AUDIT_CMD_UPDATE | AUDIT_CMD_DELETE)

/* Guards are named so by guard(); the rewrite leaves them alone. */
#define GUARD_PREFIX "oauth_rls_guard_"

/* The API roles whose access audit() reports. */
#define API_ROLES 2
static const char *const api_role_names[API_ROLES] = {"anon", "authenticated"};

/* The table whose policies are read. */
typedef struct AuditTable
{
	Oid			relid;
	Datum		nspname;		/* name */
	Datum		relname;		/* name */
	char	   *qname;			/* as format('%I.%I') spells it */
	List	   *dpcontext;		/* deparse_context_for() it, made when needed */
	Oid			roles[API_ROLES];	/* anon, authenticated (InvalidOid: none) */
	int			role_cmds[API_ROLES];	/* what each may run on it (AUDIT_CMD_*) */
} AuditTable;

/* One policy's row, kept until the table's summary is made. */
typedef struct PolicyRow
{
	Datum		values[AUDIT_POLICIES_NATTS];
	bool		nulls[AUDIT_POLICIES_NATTS];
	const char *name;
	bool		permissive;
	bool		guard;			/* named as guard() names its policies */
	bool		client_aware;
	bool		subject[API_ROLES]; /* whether the API role is subject to it */
	int			cmds;			/* AUDIT_CMD_* it covers */
} PolicyRow;

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
rewrite_columns(AuditFuncs *funcs, Form_pg_policy pol, const AuditTable *t, Node *qual,
				Node *check, Datum *values, bool *nulls)
{
	Datum		rw[3];			/* new_qual, new_check, changes */
	bool		rw_null[3];
	StringInfoData ddl;
	ArrayType  *changes;
	Datum	   *elems;
	int			n;

	audit_rewrite_policy(funcs, qual, check, t->dpcontext, rw, rw_null);
	nulls[0] = nulls[1] = rw_null[0] && rw_null[1];
	if (nulls[0])
		return;
	initStringInfo(&ddl);
	appendStringInfo(&ddl, "ALTER POLICY %s ON %s", quote_identifier(NameStr(pol->polname)),
					 t->qname);
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

/* Appends a row built in the numbering above, in output_order. */
static void
put_row(ReturnSetInfo *rsinfo, const Datum *values, const bool *nulls)
{
	Datum		out[AUDIT_POLICIES_NATTS];
	bool		out_nulls[AUDIT_POLICIES_NATTS];

	for (int i = 0; i < AUDIT_POLICIES_NATTS; i++)
	{
		out[i] = values[output_order[i]];
		out_nulls[i] = nulls[output_order[i]];
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, out_nulls);
}

/* Whether an array datum has elements. */
static bool
array_nonempty(Datum a)
{
	ArrayType  *arr = DatumGetArrayTypeP(a);

	return ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) > 0;
}

/* A name datum's storage: NAMEDATALEN bytes, zero-padded. */
static Name
namein_copy(const char *s)
{
	Name		n = palloc0(sizeof(NameData));

	namestrcpy(n, s);
	return n;
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

/* The commands a policy covers (AUDIT_CMD_*); '*' is ALL. */
static int
policy_commands(char polcmd)
{
	switch (polcmd)
	{
		case 'r':
			return AUDIT_CMD_SELECT;
		case 'a':
			return AUDIT_CMD_INSERT;
		case 'w':
			return AUDIT_CMD_UPDATE;
		case 'd':
			return AUDIT_CMD_DELETE;
		default:
			return ALL_COMMANDS;
	}
}

/* The command a policy is for, as audit() names it, and the commands it covers. */
static void
command_columns(int cmds, Datum *values)
{
	Datum		elems[lengthof(commands)];
	int			n = 0;
	const char *cmd = "all";

	for (size_t i = 0; i < lengthof(commands); i++)
		if (cmds & commands[i].bit)
		{
			elems[n++] = CStringGetTextDatum(commands[i].name);
			if (cmds == commands[i].bit)
				cmd = commands[i].name;
		}
	values[0] = CStringGetTextDatum(cmd);
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
			   PolicyRow *row)
{
	Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(tuple);
	Datum	   *values = row->values;
	bool		isnull;
	Datum		rolesd = heap_getattr(tuple, Anum_pg_policy_polroles, desc, &isnull);
	Datum	   *oids;
	int			n;

	/* polroles is never NULL (BKI_FORCE_NOT_NULL) */
	Assert(!isnull);
	oids = role_oids(DatumGetArrayTypeP(rolesd), &n);
	row->name = pstrdup(NameStr(pol->polname));
	row->permissive = pol->polpermissive;
	row->guard = strncmp(row->name, GUARD_PREFIX, strlen(GUARD_PREFIX)) == 0;
	row->cmds = policy_commands(pol->polcmd);
	for (int r = 0; r < API_ROLES; r++)
		row->subject[r] = subject_to(oids, n, t->roles[r], false);

	values[0] = ObjectIdGetDatum(pol->oid);
	values[1] = ObjectIdGetDatum(pol->polrelid);
	values[2] = NameGetDatum(namein_copy(row->name));
	values[3] = CharGetDatum(pol->polcmd);
	values[4] = BoolGetDatum(pol->polpermissive);
	values[5] = datumCopy(rolesd, false, -1);
	values[6] = BoolGetDatum(qual != NULL);
	values[7] = BoolGetDatum(check != NULL);
	values[COL_NSPNAME] = t->nspname;
	values[COL_RELNAME] = t->relname;
	values[COL_QNAME] = CStringGetTextDatum(t->qname);
	command_columns(row->cmds, values + 11);
	values[13] = role_names(oids, n);
	values[14] = BoolGetDatum(row->subject[0]);
	values[15] = BoolGetDatum(row->subject[1]);
	values[16] = BoolGetDatum(subject_to(oids, n, t->roles[0], true) ||
							  subject_to(oids, n, t->roles[1], true));
	values[COL_GUARD_NAMED] = BoolGetDatum(row->guard);
}

/*
 * The messages of the policy's PER_ROW_CALL and JWT_CLIENT_ID findings
 * (NULL where it has none), as audit() shows them: per_row_message,
 * jwt_message (then the table's three, NULL here).  Made here, where the
 * parts are at hand, rather than by format() for each finding.
 */
static void
finding_texts(const AuditTable *t, PolicyRow *row, Datum *values, bool *nulls)
{
	Datum	   *labels;
	int			n;
	StringInfoData buf;
	const char *polname = quote_identifier(row->name);

	for (int i = 0; i < TEXTS_NATTS; i++)
		nulls[i] = true;
	initStringInfo(&buf);
	if (DatumGetBool(row->values[FLAGS_AT]))
	{
		deconstruct_array(DatumGetArrayTypeP(row->values[FACTS_AT + FACT_PER_ROW]), TEXTOID, -1,
						  false, TYPALIGN_INT, &labels, NULL, &n);
		appendStringInfo(&buf, "Policy %s on %s calls ", polname, t->qname);
		for (int i = 0; i < n; i++)
			appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", TextDatumGetCString(labels[i]));
		if (!row->nulls[REWRITE_AT])
			appendStringInfo(&buf, " once per row; the fix %s.",
							 TextDatumGetCString(row->values[REWRITE_AT + 1]));
		else
			appendStringInfoString(&buf,
								   " once per row. oauth_rls has no function of exactly the same "
								   "meaning to put in its place: wrap each call as (select ...) by "
								   "hand, unless the table's policies read it back (a subquery in a "
								   "policy makes PostgreSQL check for policy recursion).");
		values[0] = CStringGetTextDatum(buf.data);
		nulls[0] = false;
	}
	if (DatumGetInt32(row->values[FACTS_AT + FACT_JWT_CLIENT]) > 0)
	{
		resetStringInfo(&buf);
		appendStringInfo(&buf,
						 "Policy %s on %s reads client_id from the JWT by hand (auth.jwt() ->> "
						 "'client_id'); oauth_rls.client_id() means the same, is computed once per "
						 "statement, and refuses malformed claims instead of reading them as a "
						 "direct session.", polname, t->qname);
		values[1] = CStringGetTextDatum(buf.data);
		nulls[1] = false;
	}
}

/*
 * The NOT_CLIENT_AWARE finding of the table, where OAuth clients get what
 * the user gets for some API role and command (unaware_*): its message,
 * fix_ddl and plan_note, as audit() shows them, after the two policy
 * texts (NULL here); NULL otherwise.
 */
static void
table_texts(const AuditTable *t, bool client_aware, const Datum *unaware, const bool *unaware_null,
			Datum *values, bool *nulls)
{
	StringInfoData buf;
	const char *commands;
	int			n_policies;

	for (int i = 0; i < TEXTS_NATTS; i++)
		nulls[i] = true;
	if (unaware_null[0])
		return;
	values += 2;
	nulls += 2;
	commands = TextDatumGetCString(unaware[1]);
	n_policies = DatumGetInt32(unaware[3]);
	initStringInfo(&buf);
	if (!client_aware)
		appendStringInfo(&buf,
						 "No policy on %s looks at the OAuth client and it is not guarded: every "
						 "OAuth client (third-party apps and AI agents included) can do whatever "
						 "the user can. Guard it; the access matrix then lets first-party apps in "
						 "and others only where you allow it.", t->qname);
	else
		appendStringInfo(&buf,
						 "Some policies on %s look at the OAuth client, but for %s the permissive "
						 "polic%s %s do%s not, and permissive policies are ORed: every OAuth client "
						 "(third-party apps and AI agents included) can %s whatever the user can. "
						 "Guard it; the access matrix then lets first-party apps in and others only "
						 "where you allow it.",
						 t->qname, commands, n_policies > 1 ? "ies" : "y",
						 TextDatumGetCString(unaware[2]), n_policies > 1 ? "" : "es", commands);
	values[0] = CStringGetTextDatum(buf.data);
	values[1] = CStringGetTextDatum(psprintf("SELECT oauth_rls.guard(%s::regclass);",
											 quote_literal_cstr(t->qname)));
	values[2] = CStringGetTextDatum(psprintf("guards it: for %s no policy limits OAuth clients, so "
											 "every client can do what the user can; with the "
											 "guard, direct sessions and first-party apps keep "
											 "their rights and other clients get what the access "
											 "matrix allows", commands));
	nulls[0] = nulls[1] = nulls[2] = false;
}

/* One policy's row of _audit_policies(), but shares_command (see table_row()). */
static PolicyRow *
policy_row(AuditFuncs *funcs, AuditTable *t, HeapTuple tuple, TupleDesc desc)
{
	Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(tuple);
	PolicyRow  *row = palloc0(sizeof(PolicyRow));
	Node	   *qual = policy_tree(tuple, desc, Anum_pg_policy_polqual);
	Node	   *check = policy_tree(tuple, desc, Anum_pg_policy_polwithcheck);
	Datum	   *facts = row->values + FACTS_AT;

	for (int i = TABLE_AT; i < TABLE_AT + TABLE_NATTS; i++)
		row->nulls[i] = true;
	row->values[TABLE_AT] = BoolGetDatum(false);	/* is_table */
	row->nulls[TABLE_AT] = false;
	policy_columns(t, tuple, desc, qual, check, row);
	audit_policy_facts(funcs, qual, check, facts, row->nulls + FACTS_AT);
	row->client_aware = DatumGetBool(facts[FACT_CLIENT_AWARE]);
	row->values[FLAGS_AT] = BoolGetDatum(array_nonempty(facts[FACT_PER_ROW]));
	row->values[FLAGS_AT + 1] = BoolGetDatum(array_nonempty(facts[FACT_HELPERS]));
	row->values[FLAGS_AT + 2] = BoolGetDatum(array_nonempty(facts[FACT_HELPERS_UNREAD]));
	for (int i = 0; i < FLAGS_NATTS; i++)
		row->nulls[FLAGS_AT + i] = false;

	/*
	 * What audit() rewrites: a policy other than a guard with per-row calls
	 * or hand-written client_id reads.  The trees are deparsed only then.
	 */
	if (!row->guard &&
		(DatumGetBool(row->values[FLAGS_AT]) || DatumGetInt32(facts[FACT_JWT_CLIENT]) > 0))
	{
		if (t->dpcontext == NIL)
			t->dpcontext = deparse_context_for(NameStr(*DatumGetName(t->relname)), t->relid);
		rewrite_columns(funcs, pol, t, qual, check, row->values + REWRITE_AT,
						row->nulls + REWRITE_AT);
	}
	else
		for (int i = 0; i < REWRITE_NATTS; i++)
			row->nulls[REWRITE_AT + i] = true;
	finding_texts(t, row, row->values + TEXTS_AT, row->nulls + TEXTS_AT);
	return row;
}

/*
 * Whether another permissive policy of the table (guards aside) covers a
 * command this permissive policy covers: only such policies can be
 * MULTIPLE_PERMISSIVE.
 */
static bool
shares_command(List *rows, PolicyRow *row)
{
	ListCell   *lc;

	if (!row->permissive || row->guard)
		return false;
	foreach(lc, rows)
	{
		PolicyRow  *other = (PolicyRow *) lfirst(lc);

		if (other != row && other->permissive && !other->guard && (other->cmds & row->cmds))
			return true;
	}
	return false;
}

/*
 * For one API role and one command it may run on the table, whether the
 * policies leave OAuth clients whatever the user gets: a permissive policy
 * that applies ignores the client (permissive policies are ORed), and no
 * restrictive one that applies looks at it.  Marks the policies that let
 * them in.
 */
static bool
open_to_clients(List *rows, int role, int cmd, bool *letting_in)
{
	bool		open = false;
	bool		limited = false;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, rows)
	{
		PolicyRow  *row = (PolicyRow *) lfirst(lc);

		if ((row->cmds & cmd) && row->subject[role])
		{
			open |= row->permissive && !row->client_aware;
			limited |= !row->permissive && row->client_aware;
		}
	}
	if (!open || limited)
		return false;
	foreach(lc, rows)
	{
		PolicyRow  *row = (PolicyRow *) lfirst(lc);

		if ((row->cmds & cmd) && row->subject[role] && row->permissive && !row->client_aware)
			letting_in[i] = true;
		i++;
	}
	return true;
}

/*
 * The unaware_* columns of the table's summary: the API roles and commands
 * for which OAuth clients get whatever the user gets, and the policies
 * that let them in (in name order, as the rows are); all NULL where there
 * are none.  Row level security and guards are audit()'s to check.
 */
static void
unaware_columns(const AuditTable *t, List *rows, Datum *values, bool *nulls)
{
	bool	   *letting_in = palloc0(sizeof(bool) * (list_length(rows) + 1));
	Datum		roles[API_ROLES];
	int			n_roles = 0;
	int			open_cmds = 0;
	int			n_policies = 0;
	StringInfoData buf;
	ListCell   *lc;
	int			i = 0;

	for (int r = 0; r < API_ROLES; r++)
	{
		bool		role_open = false;

		if (!OidIsValid(t->roles[r]))
			continue;
		for (size_t c = 0; c < lengthof(commands); c++)
			if ((t->role_cmds[r] & commands[c].bit) &&
				open_to_clients(rows, r, commands[c].bit, letting_in))
			{
				role_open = true;
				open_cmds |= commands[c].bit;
			}
		if (role_open)
			roles[n_roles++] = CStringGetTextDatum(api_role_names[r]);
	}
	if (n_roles == 0)
		return;
	values[0] = PointerGetDatum(construct_array(roles, n_roles, TEXTOID, -1, false, TYPALIGN_INT));
	initStringInfo(&buf);
	for (size_t c = 0; c < lengthof(commands); c++)
		if (open_cmds & commands[c].bit)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", commands[c].name);
	values[1] = CStringGetTextDatum(buf.data);
	resetStringInfo(&buf);
	foreach(lc, rows)
	{
		if (letting_in[i++])
		{
			appendStringInfo(&buf, "%s%s", n_policies > 0 ? ", " : "",
							 ((PolicyRow *) lfirst(lc))->name);
			n_policies++;
		}
	}
	values[2] = CStringGetTextDatum(buf.data);
	values[3] = Int32GetDatum(n_policies);
	for (int k = 0; k < 4; k++)
		nulls[k] = false;
}

/*
 * The table's summary row: polrelid and the table's names, then is_table,
 * policies, permissive_policies, policy_names (in name order, NULL for
 * none), table_client_aware (a policy reads the client), guard_policies,
 * unaware_roles, unaware_commands, unaware_policies, unaware_n.
 */
static void
table_row(const AuditTable *t, List *rows, Datum *values, bool *nulls)
{
	Datum	   *guards = palloc(sizeof(Datum) * (list_length(rows) + 1));
	int			n_guards = 0;
	int			permissive = 0;
	bool		client_aware = false;
	StringInfoData names;
	ListCell   *lc;

	for (int i = 0; i < AUDIT_POLICIES_NATTS; i++)
		nulls[i] = true;
	values[1] = ObjectIdGetDatum(t->relid);
	values[COL_NSPNAME] = t->nspname;
	values[COL_RELNAME] = t->relname;
	values[COL_QNAME] = CStringGetTextDatum(t->qname);
	nulls[1] = nulls[COL_NSPNAME] = nulls[COL_RELNAME] = nulls[COL_QNAME] = false;

	initStringInfo(&names);
	foreach(lc, rows)
	{
		PolicyRow  *row = (PolicyRow *) lfirst(lc);

		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", row->name);
		permissive += row->permissive ? 1 : 0;
		client_aware |= row->client_aware;
		if (row->guard)
			guards[n_guards++] = CStringGetTextDatum(row->name);
	}
	values[TABLE_AT] = BoolGetDatum(true);
	values[TABLE_AT + 1] = Int32GetDatum(list_length(rows));
	values[TABLE_AT + 2] = Int32GetDatum(permissive);
	values[TABLE_AT + 3] = CStringGetTextDatum(names.data);
	values[TABLE_AT + 4] = BoolGetDatum(client_aware);
	values[TABLE_AT + 5] = PointerGetDatum(construct_array(guards, n_guards, TEXTOID, -1, false,
														   TYPALIGN_INT));
	for (int i = 0; i < 6; i++)
		nulls[TABLE_AT + i] = false;
	nulls[TABLE_AT + 3] = rows == NIL;
	unaware_columns(t, rows, values + TABLE_AT + 6, nulls + TABLE_AT + 6);
	table_texts(t, client_aware, values + TABLE_AT + 6, nulls + TABLE_AT + 6, values + TEXTS_AT,
				nulls + TEXTS_AT);
}

/*
 * The policies of one table, in name order, then its summary, appended to
 * the result.  A table dropped meanwhile has neither.
 */
static void
table_policies(AuditFuncs *funcs, Relation catalog, AuditTable *t, ReturnSetInfo *rsinfo)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	HeapTuple	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(t->relid));
	Form_pg_class rel;
	char	   *nspname;
	List	   *rows = NIL;
	ListCell   *lc;
	Datum		values[AUDIT_POLICIES_NATTS];
	bool		nulls[AUDIT_POLICIES_NATTS];

	if (!HeapTupleIsValid(classtup))
		return;
	rel = (Form_pg_class) GETSTRUCT(classtup);
	nspname = get_namespace_name(rel->relnamespace);
	if (nspname == NULL)
	{
		ReleaseSysCache(classtup);
		return;
	}
	t->nspname = NameGetDatum(namein_copy(nspname));
	t->relname = NameGetDatum(namein_copy(NameStr(rel->relname)));
	t->qname = quote_qualified_identifier(nspname, NameStr(rel->relname));
	t->dpcontext = NIL;
	for (int r = 0; r < API_ROLES; r++)
		t->role_cmds[r] = audit_api_commands(t->relid, rel->relnamespace, t->roles[r]);
	ReleaseSysCache(classtup);

	ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(t->relid));
	/* The statement's snapshot: what the SQL around this call sees. */
	scan = systable_beginscan(catalog, PolicyPolrelidPolnameIndexId, true, GetActiveSnapshot(),
							  1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		rows = lappend(rows, policy_row(funcs, t, tuple, RelationGetDescr(catalog)));
	systable_endscan(scan);

	foreach(lc, rows)
	{
		PolicyRow  *row = (PolicyRow *) lfirst(lc);

		row->values[SHARES_AT] = BoolGetDatum(shares_command(rows, row));
		row->nulls[SHARES_AT] = false;
		put_row(rsinfo, row->values, row->nulls);
	}
	table_row(t, rows, values, nulls);
	put_row(rsinfo, values, nulls);
}

/*
 * oauth_rls._audit_policies(tables oid[], anon oid, authenticated oid)
 *   -> SETOF (<the policy's columns, see policy_columns()>,
 *      <the columns of _policy_facts()>, rewrite_ddl, rewrite_note,
 *      shares_command, <the table summary's columns, see table_row()>)
 *   Every policy of the given tables, each table's followed by a summary
 *   row (is_table); anon and authenticated are the API roles' oids (NULL
 *   where a role does not exist).  rewrite_ddl is the
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

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (rsinfo->setDesc->natts != AUDIT_POLICIES_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("oauth_rls._audit_policies must return %d columns", AUDIT_POLICIES_NATTS)));
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	t.roles[0] = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	t.roles[1] = PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2);
	tables = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(tables, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &relids, &relid_nulls, &n);
	tablecxt = AllocSetContextCreate(CurrentMemoryContext, "oauth_rls audit table",
									 ALLOCSET_DEFAULT_SIZES);
	catalog = table_open(PolicyRelationId, AccessShareLock);
	for (int i = 0; i < n; i++)
	{
		MemoryContext oldcxt;

		if (relid_nulls[i])
			continue;
		oldcxt = MemoryContextSwitchTo(tablecxt);
		t.relid = DatumGetObjectId(relids[i]);
		table_policies(funcs, catalog, &t, rsinfo);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextResetOnly(tablecxt);
	}
	table_close(catalog, AccessShareLock);
	MemoryContextDelete(tablecxt);
	return (Datum) 0;
}
