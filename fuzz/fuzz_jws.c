/*
 * fuzz_jws.c
 *      libFuzzer harness for the compact JWS grammar (src/jws_parse.c): the
 *      token every oauth_rls.authenticate() call receives from the network.
 *
 * fuzz-sources: src/jws_parse.c
 *
 * The first byte picks the target: even inputs go to jws_split() as a token,
 * odd ones to jws_ecdsa_raw_to_der() as a raw P-256 signature.
 * Oracles besides "no crash, no sanitizer report":
 *   - a split token has exactly two dots, at the part boundaries, three
 *     non-empty parts and the signing input ends before the second dot;
 *   - every part that decodes re-encodes (by an encoder written here) to
 *     exactly the same characters: one byte string, one encoding;
 *   - the decoded length never exceeds JWS_DECODED_MAX;
 *   - a DER signature parses back (by a reader written here) into minimal
 *     INTEGERs whose values are exactly r and s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jws_parse.h"

#define FAIL(...) do { fprintf(stderr, "jws: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t
reference_encode(const unsigned char *in, size_t len, char *out)
{
	size_t		n = 0;
	size_t		i = 0;

	for (; i + 3 <= len; i += 3)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];

		out[n++] = alphabet[(v >> 18) & 63];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = alphabet[(v >> 6) & 63];
		out[n++] = alphabet[v & 63];
	}
	if (len - i == 1)
	{
		out[n++] = alphabet[in[i] >> 2];
		out[n++] = alphabet[(in[i] & 3) << 4];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) in[i] << 8) | in[i + 1];

		out[n++] = alphabet[(v >> 10) & 63];
		out[n++] = alphabet[(v >> 4) & 63];
		out[n++] = alphabet[(v & 15) << 2];
	}
	return n;
}

static void
check_part(const char *part, size_t len)
{
	unsigned char *dec = malloc(JWS_DECODED_MAX(len) + 1);
	char	   *enc = malloc(len + 4);
	size_t		declen;

	if (!jws_b64url_decode(part, len, dec, &declen))
		FAIL("a part accepted by jws_split does not decode");
	if (declen > JWS_DECODED_MAX(len))
		FAIL("decoded %zu bytes from %zu characters", declen, len);
	if (reference_encode(dec, declen, enc) != len || memcmp(enc, part, len) != 0)
		FAIL("decoding is not the inverse of the one encoding");
	free(dec);
	free(enc);
}

static void
fuzz_token(const char *token, size_t len)
{
	JwsParts	p;
	JwsStatus	st = jws_split(token, len, &p);
	size_t		dots = 0;

	if (st != JWS_OK)
		return;
	for (size_t i = 0; i < len; i++)
		dots += token[i] == '.';
	if (dots != 2 || len > JWS_MAX_TOKEN_LEN)
		FAIL("accepted a token with %zu dots, %zu bytes", dots, len);
	if (p.header_off != 0 || token[p.header_len] != '.' || p.payload_off != p.header_len + 1 ||
		token[p.payload_off + p.payload_len] != '.' ||
		p.signature_off != p.payload_off + p.payload_len + 1 ||
		p.signature_off + p.signature_len != len ||
		p.signing_input_len != p.signature_off - 1)
		FAIL("part boundaries are wrong");
	if (p.header_len == 0 || p.payload_len == 0 || p.signature_len == 0)
		FAIL("accepted an empty part");
	check_part(token + p.header_off, p.header_len);
	check_part(token + p.payload_off, p.payload_len);
	check_part(token + p.signature_off, p.signature_len);
}

/* Reads one DER INTEGER at *pos; checks it is minimal, returns its value. */
static size_t
read_integer(const unsigned char *der, size_t len, size_t *pos, const unsigned char **val)
{
	size_t		n;

	if (*pos + 2 > len || der[*pos] != 0x02)
		FAIL("not an INTEGER");
	n = der[*pos + 1];
	if (n == 0 || n > 127 || *pos + 2 + n > len)
		FAIL("bad INTEGER length");
	*val = der + *pos + 2;
	if ((*val)[0] & 0x80)
		FAIL("negative INTEGER");
	if (n > 1 && (*val)[0] == 0 && !((*val)[1] & 0x80))
		FAIL("non-minimal INTEGER");
	*pos += 2 + n;
	if ((*val)[0] == 0)
	{
		(*val)++;
		return n - 1;
	}
	return n;
}

static void
check_value(const unsigned char *raw, size_t coord, const unsigned char *v, size_t n)
{
	size_t		skip = 0;

	while (skip < coord && raw[skip] == 0)
		skip++;
	if (coord - skip != n || memcmp(raw + skip, v, n) != 0)
		FAIL("DER value differs from the raw one");
}

static void
fuzz_ecdsa(const unsigned char *raw, size_t len)
{
	unsigned char der[JWS_P256_DER_MAX];
	size_t		n = jws_ecdsa_raw_to_der(raw, len, JWS_P256_COORD_LEN, der, sizeof(der));
	size_t		pos = 2;
	const unsigned char *r;
	const unsigned char *s;
	size_t		rn;
	size_t		sn;

	if (n == 0)
	{
		int			rzero = 1;
		int			szero = 1;

		if (len != 2 * JWS_P256_COORD_LEN)
			return;
		for (size_t i = 0; i < JWS_P256_COORD_LEN; i++)
		{
			rzero &= raw[i] == 0;
			szero &= raw[JWS_P256_COORD_LEN + i] == 0;
		}
		if (!rzero && !szero)
			FAIL("refused a 64-byte signature with non-zero r and s");
		return;
	}
	if (len != 2 * JWS_P256_COORD_LEN)
		FAIL("accepted a raw signature of %zu bytes", len);
	if (der[0] != 0x30 || der[1] != n - 2)
		FAIL("bad SEQUENCE header");
	rn = read_integer(der, n, &pos, &r);
	sn = read_integer(der, n, &pos, &s);
	if (pos != n)
		FAIL("trailing bytes after the INTEGERs");
	check_value(raw, JWS_P256_COORD_LEN, r, rn);
	check_value(raw + JWS_P256_COORD_LEN, JWS_P256_COORD_LEN, s, sn);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *copy;

	if (size == 0)
		return 0;
	/* An exact-size copy, so reading one byte too far is an ASan report. */
	copy = malloc(size - 1 + 1);
	memcpy(copy, data + 1, size - 1);
	if (data[0] % 2 == 0)
		fuzz_token(copy, size - 1);
	else
		fuzz_ecdsa((const unsigned char *) copy, size - 1);
	(void) jws_alg_from_name(copy, size - 1);
	free(copy);
	return 0;
}
