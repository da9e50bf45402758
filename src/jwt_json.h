/*
 * jwt_json.h
 *      The strict JSON of a token's header and payload, parsed once.
 */
#ifndef OAUTH_RLS_JWT_JSON_H
#define OAUTH_RLS_JWT_JSON_H

#include "postgres.h"

#include "utils/jsonb.h"

typedef enum JwtJsonStatus
{
	JWT_JSON_OK = 0,
	JWT_JSON_INVALID,			/* not JSON at all */
	JWT_JSON_NOT_OBJECT,		/* JSON, but not one object */
	JWT_JSON_TOO_DEEP,			/* nesting beyond the limit */
	JWT_JSON_DUPLICATE_KEY,		/* some object has a key twice */
	JWT_JSON_BAD_NUMBER			/* a number numeric cannot hold */
} JwtJsonStatus;

/*
 * Parses bytes[0..len) (NUL-terminated at len; the caller has checked the
 * encoding) into *out, in one pass of PostgreSQL's JSON parser: one JSON
 * object, nesting at most max_depth, no key twice in one object.  Reports
 * no value of the text, whatever the outcome.
 *
 * *out is a jbvObject tree (nested objects and arrays as jbvObject and
 * jbvArray, never jbvBinary), each object's pairs in jsonb's key order, as
 * JsonbValueToJsonb takes it.  Its strings are NUL-terminated (JSON text
 * cannot hold a NUL: the parser refuses \u0000).
 */
extern JwtJsonStatus jwt_json_parse(char *bytes, size_t len, int max_depth, JsonbValue **out);

/* The value of key name in object obj (from jwt_json_parse), or NULL. */
extern const JsonbValue *jwt_json_member(const JsonbValue *obj, const char *name);

#endif							/* OAUTH_RLS_JWT_JSON_H */
