/*
 * jws_parse.h
 *      The compact JWS grammar (RFC 7515 section 7.1) and the byte-level
 *      conversions verification needs, with no PostgreSQL dependency.
 *
 * Like api_key_format.h: standard C only, (pointer, length) inputs that need
 * not be NUL-terminated, output into caller-provided buffers, fuzzed by
 * fuzz/fuzz_jws.c.  JSON is not parsed here: the header and payload bytes are
 * handed to PostgreSQL's JSON parser (authenticate.c).
 *
 *   token     = part "." part "." part          (at most JWS_MAX_TOKEN_LEN bytes)
 *   part      = 1* base64url                     (no "=" padding)
 *   base64url = "A"-"Z" / "a"-"z" / "0"-"9" / "-" / "_"
 *
 * A part's length modulo 4 is never 1, and the unused low bits of its last
 * character are zero, so every byte string has exactly one encoding: a token
 * cannot be altered without changing its bytes.
 */
#ifndef OAUTH_RLS_JWS_PARSE_H
#define OAUTH_RLS_JWS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Supabase access tokens are 1-3 kB; app_metadata can grow them. */
#define JWS_MAX_TOKEN_LEN		16384

/* Decoded size of a part of n base64url characters (n % 4 != 1). */
#define JWS_DECODED_MAX(n)		(((n) / 4) * 3 + 2)

/* P-256: 32-byte coordinates; raw signature r || s is 64 bytes. */
#define JWS_P256_COORD_LEN		32
/* DER SEQUENCE of two INTEGERs of at most 33 bytes: 2 + 2 * (2 + 33). */
#define JWS_P256_DER_MAX		72

typedef enum JwsStatus
{
	JWS_OK = 0,
	JWS_EMPTY,
	JWS_TOO_LONG,
	JWS_NOT_THREE_PARTS,		/* not exactly two "." separators */
	JWS_EMPTY_PART,
	JWS_BAD_BASE64				/* non-alphabet byte, padding, bad length or trailing bits */
} JwsStatus;

typedef struct JwsParts
{
	size_t		header_off;
	size_t		header_len;
	size_t		payload_off;
	size_t		payload_len;
	size_t		signature_off;
	size_t		signature_len;
	size_t		signing_input_len;	/* header "." payload: bytes [0, this) */
} JwsParts;

/* The algorithms oauth_rls verifies; JWS_ALG_OTHER for every other name. */
typedef enum JwsAlg
{
	JWS_ALG_OTHER = 0,
	JWS_ALG_NONE,
	JWS_ALG_ES256,
	JWS_ALG_RS256,
	JWS_ALG_EDDSA,
	JWS_ALG_HS256,
	JWS_ALG_COUNT
} JwsAlg;

extern const char *const jws_alg_names[JWS_ALG_COUNT];

/* Splits a compact JWS; each part is checked to be strict base64url. */
extern JwsStatus jws_split(const char *token, size_t len, JwsParts *parts);

/* Whether in[0..len) is strict unpadded base64url (see above). */
extern bool jws_b64url_valid(const char *in, size_t len);

/*
 * Decodes strict unpadded base64url into out (room for JWS_DECODED_MAX(len)
 * bytes); returns false, out undefined, when the input is not strict.
 */
extern bool jws_b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

/* The algorithm named by name[0..len), matched exactly (case-sensitive). */
extern JwsAlg jws_alg_from_name(const char *name, size_t len);

/* Whether bytes[0..len) holds a NUL byte (never valid in a JWS's JSON). */
extern bool jws_has_nul(const unsigned char *bytes, size_t len);

/*
 * Converts a raw ECDSA signature r || s (JWS form, RFC 7518 3.4) into DER
 * (what OpenSSL verifies).  raw_len must be exactly 2 * coord_len; r and s
 * must be non-zero.  Returns the DER length, 0 when the raw form is refused
 * or der_cap is too small.  The DER is minimal, so one raw form has one DER.
 */
extern size_t jws_ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len, size_t coord_len,
								   unsigned char *der, size_t der_cap);

#endif							/* OAUTH_RLS_JWS_PARSE_H */
