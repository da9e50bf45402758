/*
 * claims_parse.h
 *      Pure C parsers for untrusted claim text: no palloc, no ereport, no
 *      server headers, so the fuzz harnesses in fuzz/ build them on their own.
 */
#ifndef OAUTH_RLS_CLAIMS_PARSE_H
#define OAUTH_RLS_CLAIMS_PARSE_H

#include <stdbool.h>

#define CLAIMS_UUID_TEXT_LEN 36
#define CLAIMS_UUID_BYTES 16

/*
 * Parses the canonical 8-4-4-4-12 hex form (either case) of len bytes into
 * out[16].  Returns false, leaving out partly written, on anything else.
 */
extern bool claims_parse_uuid(const char *s, int len, unsigned char *out);

/*
 * Lower-cases s[0..len) in place when it is a uuid in 8-4-4-4-12 form, the
 * one spelling Supabase Auth uses for client ids; returns whether it was one.
 */
extern bool claims_lower_uuid(char *s, int len);

/*
 * Iterates over the space-separated tokens of scope[0..len): returns the
 * length of the next non-empty token at or after *pos and sets *start to its
 * offset, or returns 0 when there is none.  *pos moves past the token.
 */
extern int	claims_next_scope(const char *scope, int len, int *pos, int *start);

#endif							/* OAUTH_RLS_CLAIMS_PARSE_H */
