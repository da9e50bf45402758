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
 * once per command of a statement (StatementKey) and never kept longer.  They are read
 * directly through their primary keys, with the extension's access: the API
 * roles have no right on them and Supabase enables RLS on auth.sessions.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "auth_session.h"
#include "claims.h"
#include "invalidation.h"

/* Oid of auth.<relname>, or InvalidOid. */
static Oid
auth_relation(const char *relname)
{
	Oid			auth_ns = get_namespace_oid("auth", true);

	return OidIsValid(auth_ns) ? get_relname_relid(relname, auth_ns) : InvalidOid;
}

bool
auth_sessions_exist(void)
{
	return OidIsValid(auth_relation("sessions"));
}

bool
auth_read_row(const char *relname, const char *pkeyname, const pg_uuid_t *id,
			  AuthRowCallback fn, void *arg)
{
	Oid			relid = auth_relation(relname);
	Oid			indexid;
	AttrNumber	id_att;
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	if (!OidIsValid(relid))
		return false;
	id_att = get_attnum(relid, "id");
	if (id_att == InvalidAttrNumber || get_atttype(relid, id_att) != UUIDOID)
		return false;
	indexid = auth_relation(pkeyname);
	if (OidIsValid(indexid) && IndexGetRelation(indexid, true) != relid)
		indexid = InvalidOid;

	rel = table_open(relid, AccessShareLock);
	snapshot = oauth_rls_register_read_snapshot();
	ScanKeyInit(&key, id_att, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(id));
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

bool
auth_uuid_column(HeapTuple tuple, Relation rel, const char *column, pg_uuid_t *out)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), column);
	bool		isnull;
	Datum		value;

	if (att == InvalidAttrNumber || get_atttype(RelationGetRelid(rel), att) != UUIDOID)
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
	AttrNumber	att = get_attnum(RelationGetRelid(rel), "deleted_at");
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
		s->found = auth_read_row("sessions", "sessions_pkey", &rc->session_id,
								 read_session_columns, s);
	if (s->found && s->has_client)
	{
		auth_uuid_text(&s->client, s->client_text);
		(void) auth_read_row("oauth_clients", "oauth_clients_pkey", &s->client,
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
