/*
 * jws_parse.c
 *      Compact JWS splitting, strict base64url and ECDSA signature encoding,
 *      with no PostgreSQL dependency (see jws_parse.h).
 */
#include "jws_parse.h"

#include <string.h>

const char *const jws_alg_names[JWS_ALG_COUNT] = {
	"other", "none", "ES256", "RS256", "EdDSA", "HS256"
};

/* Value of each byte as a base64url character, or -1. */
static const signed char b64url_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,	/* '-' */
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,	/* 0-9 */
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,	/* A-O */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,	/* P-Z, '_' */
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,	/* a-o */
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,	/* p-z */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};

static inline int
b64url_value(unsigned char c)
{
	return b64url_values[c];
}

bool
jws_b64url_valid(const char *in, size_t len)
{
	int			last;

	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (b64url_value((unsigned char) in[i]) < 0)
			return false;
	if (len == 0)
		return true;
	last = b64url_value((unsigned char) in[len - 1]);
	/* 2 chars carry 8 bits (4 unused), 3 chars carry 16 bits (2 unused). */
	if (len % 4 == 2 && (last & 0x0F) != 0)
		return false;
	if (len % 4 == 3 && (last & 0x03) != 0)
		return false;
	return true;
}

/*
 * Four characters at a time into three bytes; a character outside the
 * alphabet has value -1, which sets the sign bit of the OR of all values.
 */
bool
jws_b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *) in;
	size_t		full = len - len % 4;
	size_t		n = 0;
	int			seen = 0;
	int			a,
				b,
				c;

	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < full; i += 4)
	{
		int			v0 = b64url_value(u[i]);
		int			v1 = b64url_value(u[i + 1]);
		int			v2 = b64url_value(u[i + 2]);
		int			v3 = b64url_value(u[i + 3]);
		uint32_t	x;

		seen |= v0 | v1 | v2 | v3;
		x = ((uint32_t) (v0 & 0x3F) << 18) | ((uint32_t) (v1 & 0x3F) << 12) |
			((uint32_t) (v2 & 0x3F) << 6) | (uint32_t) (v3 & 0x3F);
		out[n++] = (unsigned char) (x >> 16);
		out[n++] = (unsigned char) (x >> 8);
		out[n++] = (unsigned char) x;
	}
	if (seen < 0)
		return false;
	switch (len % 4)
	{
		case 2:
			a = b64url_value(u[full]);
			b = b64url_value(u[full + 1]);
			/* 2 chars carry 8 bits: the last 4 must be zero. */
			if ((a | b) < 0 || (b & 0x0F) != 0)
				return false;
			out[n++] = (unsigned char) ((a << 2) | (b >> 4));
			break;
		case 3:
			a = b64url_value(u[full]);
			b = b64url_value(u[full + 1]);
			c = b64url_value(u[full + 2]);
			/* 3 chars carry 16 bits: the last 2 must be zero. */
			if ((a | b | c) < 0 || (c & 0x03) != 0)
				return false;
			out[n++] = (unsigned char) ((a << 2) | (b >> 4));
			out[n++] = (unsigned char) (((b & 0x0F) << 4) | (c >> 2));
			break;
		default:
			break;
	}
	*outlen = n;
	return true;
}

JwsStatus
jws_split(const char *token, size_t len, JwsParts *parts)
{
	const char *dot1;
	const char *dot2;

	memset(parts, 0, sizeof(*parts));
	if (len == 0)
		return JWS_EMPTY;
	if (len > JWS_MAX_TOKEN_LEN)
		return JWS_TOO_LONG;
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return JWS_NOT_THREE_PARTS;
	dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
	if (dot2 == NULL ||
		memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL)
		return JWS_NOT_THREE_PARTS;

	parts->header_off = 0;
	parts->header_len = (size_t) (dot1 - token);
	parts->payload_off = parts->header_len + 1;
	parts->payload_len = (size_t) (dot2 - dot1 - 1);
	parts->signature_off = (size_t) (dot2 - token) + 1;
	parts->signature_len = len - parts->signature_off;
	parts->signing_input_len = (size_t) (dot2 - token);

	if (parts->header_len == 0 || parts->payload_len == 0 || parts->signature_len == 0)
		return JWS_EMPTY_PART;
	if (!jws_b64url_valid(token + parts->header_off, parts->header_len) ||
		!jws_b64url_valid(token + parts->payload_off, parts->payload_len) ||
		!jws_b64url_valid(token + parts->signature_off, parts->signature_len))
		return JWS_BAD_BASE64;
	return JWS_OK;
}

JwsAlg
jws_alg_from_name(const char *name, size_t len)
{
	for (int a = JWS_ALG_NONE; a < JWS_ALG_COUNT; a++)
		if (strlen(jws_alg_names[a]) == len && memcmp(jws_alg_names[a], name, len) == 0)
			return (JwsAlg) a;
	return JWS_ALG_OTHER;
}

bool
jws_has_nul(const unsigned char *bytes, size_t len)
{
	return memchr(bytes, 0, len) != NULL;
}

/* Writes one DER INTEGER for an unsigned big-endian value; 0 if it is zero. */
static size_t
der_integer(const unsigned char *v, size_t len, unsigned char *out)
{
	size_t		skip = 0;
	size_t		n;
	bool		pad;

	while (skip < len && v[skip] == 0)
		skip++;
	if (skip == len)
		return 0;
	pad = (v[skip] & 0x80) != 0;
	n = len - skip + (pad ? 1 : 0);
	out[0] = 0x02;
	out[1] = (unsigned char) n;
	if (pad)
		out[2] = 0x00;
	memcpy(out + 2 + (pad ? 1 : 0), v + skip, len - skip);
	return 2 + n;
}

size_t
jws_ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len, size_t coord_len,
					 unsigned char *der, size_t der_cap)
{
	unsigned char buf[2 + 2 * (2 + 1 + 66)];	/* up to P-521 */
	size_t		rlen;
	size_t		slen;

	if (coord_len == 0 || coord_len > 66 || raw_len != 2 * coord_len)
		return 0;
	rlen = der_integer(raw, coord_len, buf + 2);
	if (rlen == 0)
		return 0;
	slen = der_integer(raw + coord_len, coord_len, buf + 2 + rlen);
	if (slen == 0)
		return 0;
	/* Contents stay below 128 bytes for coord_len <= 61: short-form length. */
	if (rlen + slen > 127 || 2 + rlen + slen > der_cap)
		return 0;
	buf[0] = 0x30;
	buf[1] = (unsigned char) (rlen + slen);
	memcpy(der, buf, 2 + rlen + slen);
	return 2 + rlen + slen;
}
