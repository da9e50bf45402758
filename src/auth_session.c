/*
 * auth_session.c
 *      The request's auth.sessions row and the OAuth client it acts as.
 *
 * Supabase Auth re-issues an OAuth session's access token after MFA
 * verification without the client_id claim (GoTrue's token.go
 * updateMFASessionAndClaims), keeping session_id and scope: a client can turn
 * its token into one that looks like the user's own browser session.  What
 * cannot be dropped is auth.sessions.oauth_client_id, which Auth writes at the
 * code exchange and never clears.  So a request without client_id whose
 * session row names an OAuth client is a request of that client.
 *
 * Auth's tables send us no invalidation, so what they say is read at most
 * once per command of a statement (StatementKey) and never kept longer.
 * They are read directly through their primary keys, with the extension's
 * access: the API roles have no right on them and Supabase enables RLS on
 * auth.sessions.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "auth_session.h"
#include "claims.h"
#include "invalidation.h"

/*
 * What auth.<table> is, resolved once per backend: 8-10 syscache lookups a
 * call were most of a repeated authenticate().  Auth's tables can be
 * created, dropped, renamed or altered at any time (a restore, a migration
 * of Supabase's), and every such change sends a relcache invalidation for
 * the table or index (pg_class and pg_attribute changes do), or a syscache
 * one for schema auth: either forgets the resolution, and the next read
 * resolves again.  The callbacks only clear flags and count.
 */
#define AUTH_MAX_COLUMNS 4

typedef struct AuthColumn
{
	const char *name;
	AttrNumber	att;			/* InvalidAttrNumber: absent, or not uuid */
} AuthColumn;

typedef struct AuthRel
{
	const char *relname;
	bool		resolved;
	Oid			relid;			/* InvalidOid: no such table */
	AttrNumber	id_att;			/* the uuid column "id" */
	bool		index_resolved; /* indexid known (found with the table locked) */
	Oid			indexid;		/* its primary key on (id) exactly, or InvalidOid */
	int			ncolumns;
	AuthColumn	columns[AUTH_MAX_COLUMNS];
} AuthRel;

static AuthRel auth_rels[] = {
	{.relname = "sessions"},
	{.relname = "oauth_clients"},
};

static uint64 auth_invalidations = 0;	/* invalidations seen so far */

/*
 * Called by invalidation.c's relcache callback (PostgreSQL has room for
 * only ten per backend, shared with core and every other extension).  A
 * table of ours changed (its columns, its indexes: creating or dropping an
 * index invalidates its table too), or a table was created or dropped
 * anywhere: an absent one may exist now, so an absent one is forgotten too.
 */
void
auth_tables_relcache_changed(Oid relid)
{
	auth_invalidations++;
	for (int i = 0; i < (int) lengthof(auth_rels); i++)
	{
		AuthRel    *r = &auth_rels[i];

		if (!OidIsValid(relid) || !OidIsValid(r->relid) || relid == r->relid ||
			(OidIsValid(r->indexid) && relid == r->indexid))
			r->resolved = false;
	}
}

/* Called by invalidation.c's schema callback: auth may have been renamed. */
void
auth_tables_schema_changed(void)
{
	auth_invalidations++;
	for (int i = 0; i < (int) lengthof(auth_rels); i++)
		auth_rels[i].resolved = false;
}

/* The attribute number of a uuid column, or InvalidAttrNumber. */
static AttrNumber
uuid_attnum(Oid relid, const char *column)
{
	AttrNumber	att = get_attnum(relid, column);

	if (att == InvalidAttrNumber || get_atttype(relid, att) != UUIDOID)
		return InvalidAttrNumber;
	return att;
}

static AuthRel *
auth_rel(const char *relname)
{
	AuthRel    *r = NULL;
	Oid			auth_ns;
	uint64		start;

	for (int i = 0; i < (int) lengthof(auth_rels); i++)
		if (strcmp(auth_rels[i].relname, relname) == 0)
			r = &auth_rels[i];
	if (r == NULL)
		elog(ERROR, "oauth_rls: auth.%s is not a table this extension reads", relname);
	if (r->resolved)
		return r;

	/*
	 * Kept only if no invalidation arrived while resolving (the lookups can
	 * apply some); otherwise it serves this call and is resolved again next.
	 * The index is found later, with the table locked.
	 */
	start = auth_invalidations;
	r->relid = r->indexid = InvalidOid;
	r->id_att = InvalidAttrNumber;
	r->index_resolved = false;
	r->ncolumns = 0;
	auth_ns = get_namespace_oid("auth", true);
	if (OidIsValid(auth_ns))
		r->relid = get_relname_relid(r->relname, auth_ns);
	if (OidIsValid(r->relid))
		r->id_att = uuid_attnum(r->relid, "id");
	r->resolved = auth_invalidations == start;
	return r;
}

/*
 * The table's primary key index if its one key column is id_att, else
 * InvalidOid (read by a heap scan then).  Found from the locked table, not
 * by name: an index named like Auth's could be partial, on another column,
 * or another table's.  A primary key is unique, has no predicate, and its
 * set cannot change under our lock (adding or dropping one takes ACCESS
 * EXCLUSIVE).
 */
static Oid
primary_key_on(Relation rel, AttrNumber id_att)
{
#if PG_VERSION_NUM >= 180000
	Oid			pk = RelationGetPrimaryKeyIndex(rel, false);
#else
	Oid			pk = RelationGetPrimaryKeyIndex(rel);
#endif
	HeapTuple	tup;
	bool		ok = false;

	if (!OidIsValid(pk))
		return InvalidOid;
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_index ix = (Form_pg_index) GETSTRUCT(tup);

		ok = ix->indisprimary && ix->indisvalid && ix->indisready && ix->indislive &&
			ix->indnkeyatts == 1 && ix->indkey.values[0] == id_att &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL);
		ReleaseSysCache(tup);
	}
	return ok ? pk : InvalidOid;
}

/* The cached resolution of an auth table by its oid, or NULL. */
static AuthRel *
auth_rel_of(Oid relid)
{
	for (int i = 0; i < (int) lengthof(auth_rels); i++)
		if (auth_rels[i].resolved && auth_rels[i].relid == relid)
			return &auth_rels[i];
	return NULL;
}

bool
auth_sessions_exist(void)
{
	return OidIsValid(auth_rel("sessions")->relid);
}

bool
auth_read_row(const char *relname, const pg_uuid_t *id, AuthRowCallback fn, void *arg)
{
	AuthRel    *r;
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;
	Oid			indexid;

	/*
	 * Taking the lock applies pending invalidations: if one concerned this
	 * table, it is resolved again, now that the lock holds it still.  Should
	 * the name lead elsewhere by then (the table dropped, or replaced by
	 * another of the same name), the one the name leads to is read: "no
	 * row" is an answer (the RLS read takes a missing session row for no
	 * OAuth client) and must never come from a table that is gone.
	 */
	for (int tries = 0;; tries++)
	{
		r = auth_rel(relname);
		if (!OidIsValid(r->relid))
			return false;
		rel = try_table_open(r->relid, AccessShareLock);
		if (rel != NULL && (r->resolved || auth_rel(relname)->relid == RelationGetRelid(rel)))
			break;
		if (rel != NULL)
			table_close(rel, AccessShareLock);
		if (tries >= 3)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("auth.%s changed while oauth_rls was reading it", relname),
					 errhint("Retry the statement.")));
	}
	if (r->id_att == InvalidAttrNumber)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	if (!r->index_resolved)
	{
		uint64		start = auth_invalidations;

		r->indexid = primary_key_on(rel, r->id_att);
		r->index_resolved = auth_invalidations == start;
	}
	indexid = r->indexid;
	snapshot = oauth_rls_register_read_snapshot();
	ScanKeyInit(&key, r->id_att, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(id));
	scan = systable_beginscan(rel, indexid, OidIsValid(indexid), snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		if (fn != NULL)
			fn(tuple, rel, arg);
		found = true;
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/* The attribute number of a uuid column of rel, cached with rel's resolution. */
static AttrNumber
auth_column(Relation rel, const char *column)
{
	Oid			relid = RelationGetRelid(rel);
	AuthRel    *r = auth_rel_of(relid);
	AttrNumber	att;

	if (r == NULL)
		return uuid_attnum(relid, column);
	for (int i = 0; i < r->ncolumns; i++)
		if (strcmp(r->columns[i].name, column) == 0)
			return r->columns[i].att;
	att = uuid_attnum(relid, column);
	if (r->ncolumns < AUTH_MAX_COLUMNS)
	{
		r->columns[r->ncolumns].name = column;	/* callers pass literals */
		r->columns[r->ncolumns].att = att;
		r->ncolumns++;
	}
	return att;
}

bool
auth_uuid_column(HeapTuple tuple, Relation rel, const char *column, pg_uuid_t *out)
{
	AttrNumber	att = auth_column(rel, column);
	bool		isnull;
	Datum		value;

	if (att == InvalidAttrNumber)
		return false;
	value = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	if (isnull)
		return false;
	memcpy(out->data, DatumGetUUIDP(value)->data, UUID_LEN);
	return true;
}

static void
read_session_columns(HeapTuple tuple, Relation rel, void *arg)
{
	RequestSession *s = (RequestSession *) arg;

	s->has_user = auth_uuid_column(tuple, rel, "user_id", &s->user_id);
	s->has_client = auth_uuid_column(tuple, rel, "oauth_client_id", &s->client);
}

/* A client is live until Auth soft-deletes it by setting deleted_at. */
static void
read_client_live(HeapTuple tuple, Relation rel, void *arg)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), "deleted_at");	/* not uuid */
	bool		isnull = true;

	if (att != InvalidAttrNumber)
		(void) heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	*(bool *) arg = isnull;
}

void
auth_uuid_text(const pg_uuid_t *u, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int			p = 0;

	for (int i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[p++] = '-';
		out[p++] = hex[u->data[i] >> 4];
		out[p++] = hex[u->data[i] & 0x0F];
	}
	out[p] = '\0';
}

static struct
{
	StatementKey key;
	RequestSession session;
} session_cache = {0};

const RequestSession *
auth_request_session(void)
{
	const RequestClaims *rc = claims_current();
	RequestSession *s = &session_cache.session;

	if (statement_key_holds(&session_cache.key))
		return s;

	/* Mark invalid first: an error while reading leaves no half state. */
	session_cache.key.epoch = 0;
	memset(s, 0, sizeof(*s));
	s->sessions_exist = auth_sessions_exist();
	if (s->sessions_exist && rc->has_session)
		s->found = auth_read_row("sessions", &rc->session_id,
								 read_session_columns, s);
	if (s->found && s->has_client)
	{
		auth_uuid_text(&s->client, s->client_text);
		(void) auth_read_row("oauth_clients", &s->client,
							 read_client_live, &s->client_live);
	}

	/*
	 * The key of after the read: an invalidation of our tables processed
	 * while auth.sessions was opened says nothing about its rows.
	 */
	session_cache.key = statement_key_now();
	return s;
}

RequestClientSource
auth_request_client(const char **client, bool *per_statement)
{
	const RequestClaims *rc = claims_current();

	*client = NULL;
	*per_statement = false;
	if (rc->client_id != NULL)
	{
		*client = rc->client_id;
		return CLIENT_FROM_CLAIM;
	}
	if (rc->has_session)
	{
		const RequestSession *s = auth_request_session();

		*per_statement = true;
		if (s->found && s->has_client)
		{
			*client = s->client_text;
			return CLIENT_FROM_SESSION;
		}
	}

	/*
	 * Auth writes scope only into tokens of OAuth sessions.  One without
	 * client_id and without an OAuth session behind it (the session was
	 * revoked, or the claims were written by hand) is never taken for the
	 * user's own session: it is a request of an unknown client.
	 */
	if (rc->has_scope_claim)
		return CLIENT_UNKNOWN;
	return CLIENT_NONE;
}
