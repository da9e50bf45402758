/*
 * auth_session.h
 *      The request's row of Supabase Auth's auth.sessions, read directly and
 *      at most once per statement, and the OAuth client the request acts as.
 */
#ifndef OAUTH_RLS_AUTH_SESSION_H
#define OAUTH_RLS_AUTH_SESSION_H

#include "oauth_rls.h"
#include "invalidation.h"

#include "access/htup.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* A uuid as canonical text: 36 characters. */
#define UUID_TEXT_LEN 36

/*
 * One command of one statement of one request: a cached answer that depends
 * on Auth's tables (which send us no invalidation) holds while both are
 * equal.  A new request (settings change), a new top-level statement, the
 * end of the transaction or the abort of a subtransaction (each moves the
 * cache epoch), or a new command inside a function make it stale, so a
 * pooled backend never serves one request's answer to the next.  Per row it
 * costs two calls that return a variable and two comparisons.
 */
typedef struct StatementKey
{
	uint64		epoch;			/* 0: never holds */
	CommandId	command_id;
} StatementKey;

/*
 * The key of now.  Take it before computing an answer that also depends on
 * the extension's tables: an invalidation processed meanwhile moves the
 * epoch, and the answer is computed again at the next call.
 */
static inline StatementKey
statement_key_now(void)
{
	StatementKey key;

	key.epoch = oauth_rls_current_epoch();
	key.command_id = GetCurrentCommandId(false);
	return key;
}

static inline bool
statement_key_holds(const StatementKey *key)
{
	return key->epoch == oauth_rls_current_epoch() &&
		key->command_id == GetCurrentCommandId(false);
}

/*
 * Reads the row of auth.<relname> whose uuid column "id" equals id (through
 * its primary key index pkeyname when it has that name), with the extension's
 * access: no right on the table and no RLS policy is needed.  fn sees the
 * tuple while the table is open.  False when the table or the row is absent
 * (or "id" is not a uuid: not the table we know).
 */
typedef void (*AuthRowCallback) (HeapTuple tuple, Relation rel, void *arg);
extern bool auth_read_row(const char *relname, const char *pkeyname,
						  const pg_uuid_t *id, AuthRowCallback fn, void *arg);

/* A uuid as canonical lowercase text into out[UUID_TEXT_LEN + 1]. */
extern void auth_uuid_text(const pg_uuid_t *u, char *out);

/* Whether auth.sessions exists in this database. */
extern bool auth_sessions_exist(void);

/*
 * A uuid column of a row found by auth_read_row: false when the column is
 * missing, not a uuid, or NULL.
 */
extern bool auth_uuid_column(HeapTuple tuple, Relation rel, const char *column,
							 pg_uuid_t *out);

/* What auth.sessions says about the request's session (claims' session_id). */
typedef struct RequestSession
{
	bool		sessions_exist; /* auth.sessions is there to consult */
	bool		found;			/* the claims name a session and its row exists */
	bool		has_user;		/* the row's user_id (not NULL) */
	pg_uuid_t	user_id;
	bool		has_client;		/* the row's oauth_client_id is not NULL */
	pg_uuid_t	client;
	char		client_text[UUID_TEXT_LEN + 1];
	bool		client_live;	/* has_client, and auth.oauth_clients has it undeleted */
} RequestSession;

/* The request's session, read at most once per statement. */
extern const RequestSession *auth_request_session(void);

/* How the request's OAuth client (if any) is known. */
typedef enum RequestClientSource
{
	CLIENT_NONE = 0,			/* a direct session (or an API key decides) */
	CLIENT_FROM_CLAIM,			/* the token's client_id claim */
	CLIENT_FROM_SESSION,		/* no claim; auth.sessions.oauth_client_id */
	CLIENT_UNKNOWN				/* no claim, no OAuth session, but a scope claim */
} RequestClientSource;

/*
 * The OAuth client the request acts as: the client_id claim, else the
 * OAuth client of its auth.sessions row (Supabase Auth re-issues an OAuth
 * session's token without client_id after MFA), else none.  *client is NULL
 * for CLIENT_NONE and CLIENT_UNKNOWN.  The answer can depend on auth.sessions:
 * *per_statement says so (cache it with a StatementKey, not across statements).
 */
extern RequestClientSource auth_request_client(const char **client, bool *per_statement);

#endif							/* OAUTH_RLS_AUTH_SESSION_H */
