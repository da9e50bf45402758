/*
 * api_key_format.h
 *      The text grammar of API keys, with no PostgreSQL dependency.
 *
 * This file and api_key_format.c use only the C standard library, take
 * (pointer, length) inputs that need not be NUL-terminated, and write into
 * caller-provided buffers, so they can be compiled and fuzzed on their own.
 *
 * Grammar (docs/api-keys.md has the long form):
 *
 *   native key   = "pk_" id "." "sk_" random checksum      (72 bytes)
 *   id           = 16 * base62
 *   random       = 43 * base62                              (>= 256 bits)
 *   checksum     = 6 * base62: CRC-32 (IEEE 802.3, as zlib's crc32) of
 *                  everything before it, "pk_" .. random, written in base62,
 *                  most significant digit first, left-padded with '0'
 *   base62       = "0"-"9" / "A"-"Z" / "a"-"z"   (digit values 0..61 in
 *                  that order)
 *
 *   foreign key  = "pk_" foreign-id "." "sk_" foreign-secret
 *   foreign-id   = 1*64 ( ALPHA / DIGIT / "_" / "-" )
 *   foreign-secret = 1*512 visible ASCII (0x21-0x7E)
 *
 * A foreign key is any key made by another system (imported by its digest);
 * it carries no checksum.  A string with the exact shape of a native key (a
 * 16-character base62 id and a 49-character base62 secret) is always read as
 * a native key, so its checksum must match.
 */
#ifndef OAUTH_RLS_API_KEY_FORMAT_H
#define OAUTH_RLS_API_KEY_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_KEY_ID_PREFIX		"pk_"
#define API_KEY_SECRET_PREFIX	"sk_"
#define API_KEY_PREFIX_LEN		3
#define API_KEY_SEPARATOR		'.'

#define API_KEY_ID_LEN			16
#define API_KEY_RANDOM_LEN		43	/* 43 * log2(62) = 256.03 bits */
#define API_KEY_CHECKSUM_LEN	6	/* 62^6 > 2^32 */
#define API_KEY_SECRET_LEN		(API_KEY_RANDOM_LEN + API_KEY_CHECKSUM_LEN)
#define API_KEY_LEN \
	(API_KEY_PREFIX_LEN + API_KEY_ID_LEN + 1 + API_KEY_PREFIX_LEN + API_KEY_SECRET_LEN)

#define API_KEY_FOREIGN_ID_MAXLEN		64
#define API_KEY_FOREIGN_SECRET_MAXLEN	512
#define API_KEY_MAXLEN \
	(API_KEY_PREFIX_LEN + API_KEY_FOREIGN_ID_MAXLEN + 1 + API_KEY_PREFIX_LEN + \
	 API_KEY_FOREIGN_SECRET_MAXLEN)

/* Largest random byte value the base62 sampler accepts: 4 * 62 - 1. */
#define API_KEY_BASE62_REJECT_FROM	248

typedef enum ApiKeyStatus
{
	API_KEY_OK = 0,
	API_KEY_EMPTY,
	API_KEY_TOO_LONG,
	API_KEY_BAD_ID_PREFIX,		/* does not start with "pk_" */
	API_KEY_NO_SEPARATOR,		/* no '.' after the id */
	API_KEY_BAD_SECRET_PREFIX,	/* the '.' is not followed by "sk_" */
	API_KEY_BAD_ID,				/* empty, too long, or a disallowed byte */
	API_KEY_BAD_SECRET,			/* empty, too long, or a disallowed byte */
	API_KEY_NOT_NATIVE,			/* well formed, but not an oauth_rls key */
	API_KEY_BAD_CHECKSUM		/* native shape, checksum does not match */
} ApiKeyStatus;

typedef enum ApiKeyKind
{
	API_KEY_NATIVE,				/* made by oauth_rls: checksum verified */
	API_KEY_FOREIGN				/* made elsewhere: no checksum to verify */
} ApiKeyKind;

/* Offsets into the parsed string; the prefixes are not included. */
typedef struct ApiKeyParts
{
	ApiKeyKind	kind;
	size_t		id_offset;
	size_t		id_len;
	size_t		secret_offset;
	size_t		secret_len;
	/* for a foreign key: why it is not a native one (API_KEY_NOT_NATIVE...) */
	ApiKeyStatus native_status;
} ApiKeyParts;

/*
 * Parses key[0..len).  Returns API_KEY_OK and fills *parts when the string is
 * a native key with a good checksum or a well-formed foreign key; otherwise
 * the reason, and *parts is undefined.  Reads no byte beyond key + len.
 */
extern ApiKeyStatus api_key_parse(const char *key, size_t len, ApiKeyParts *parts);

/* A short English reason for a status, never containing the key. */
extern const char *api_key_status_message(ApiKeyStatus status);

/* CRC-32/ISO-HDLC (zlib's crc32, polynomial 0xEDB88320 reflected). */
extern uint32_t api_key_crc32(const unsigned char *data, size_t len);

/* Writes crc as exactly API_KEY_CHECKSUM_LEN base62 digits (no NUL). */
extern void api_key_checksum_encode(uint32_t crc, char *out);

/*
 * Maps random bytes to base62 characters by rejection sampling (bytes >=
 * API_KEY_BASE62_REJECT_FROM are skipped, so every character is uniform).
 * Writes at most nout characters; returns how many were written.
 */
extern size_t api_key_base62_from_random(const unsigned char *random, size_t nrandom,
										 char *out, size_t nout);

/*
 * Assembles a native key from an id of API_KEY_ID_LEN and a random part of
 * API_KEY_RANDOM_LEN base62 characters.  out must hold API_KEY_LEN + 1 bytes;
 * returns false (writing nothing) when an input is not base62.
 */
extern bool api_key_assemble(const char *id, const char *random, char *out, size_t outsize);

/* Whether id[0..len) is a valid key id (the foreign-id rule, which native ids satisfy). */
extern bool api_key_id_is_valid(const char *id, size_t len);

#endif							/* OAUTH_RLS_API_KEY_FORMAT_H */
