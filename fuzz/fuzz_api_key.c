/*
 * fuzz_api_key.c
 *      libFuzzer harness for the API key grammar (src/api_key_format.c): the
 *      X-API-Key header value every keyed request sends.
 *
 * fuzz-sources: src/api_key_format.c
 *
 * The input is split by its first byte: odd inputs go to api_key_parse() as
 * a key; even ones build a native key with api_key_assemble() from the bytes
 * (mapped to base62 by api_key_base62_from_random()) and parse it back.
 * Oracles besides "no crash, no sanitizer report":
 *   - a parsed key's parts lie inside the input, after "pk_" and "sk_";
 *   - a native key is exactly API_KEY_LEN bytes of base62 whose last 6 are
 *     the CRC-32 of the rest, checked against a bitwise CRC written here;
 *   - a foreign key's id passes api_key_id_is_valid() and its secret is
 *     visible ASCII, both within their length limits;
 *   - an assembled key parses back as native with the same id, and any one
 *     changed byte of its secret makes it fail (the checksum catches it);
 *   - the sampler writes only base62 and skips exactly the bytes >= 248.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_key_format.h"

#define FAIL(...) do { fprintf(stderr, "api_key: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static int
is_base62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static uint32_t
reference_crc32(const unsigned char *p, size_t n)
{
	uint32_t	crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++)
	{
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void
check_parsed(const char *key, size_t len, const ApiKeyParts *parts)
{
	if (parts->id_offset != API_KEY_PREFIX_LEN || memcmp(key, "pk_", 3) != 0)
		FAIL("id does not follow \"pk_\"");
	if (parts->id_len == 0 || parts->id_offset + parts->id_len + 1 + API_KEY_PREFIX_LEN != parts->secret_offset
		|| key[parts->id_offset + parts->id_len] != '.' || memcmp(key + parts->secret_offset - 3, "sk_", 3) != 0)
		FAIL("secret does not follow \".sk_\"");
	if (parts->secret_len == 0 || parts->secret_offset + parts->secret_len != len)
		FAIL("secret does not end the key");
	if (!api_key_id_is_valid(key + parts->id_offset, parts->id_len))
		FAIL("parsed id is not a valid id");
	if (parts->kind == API_KEY_NATIVE)
	{
		char		sum[API_KEY_CHECKSUM_LEN];

		if (len != API_KEY_LEN || parts->id_len != API_KEY_ID_LEN || parts->secret_len != API_KEY_SECRET_LEN)
			FAIL("native key of the wrong shape");
		for (size_t i = 0; i < parts->id_len; i++)
			if (!is_base62(key[parts->id_offset + i]))
				FAIL("native id not base62");
		for (size_t i = 0; i < parts->secret_len; i++)
			if (!is_base62(key[parts->secret_offset + i]))
				FAIL("native secret not base62");
		api_key_checksum_encode(reference_crc32((const unsigned char *) key, len - API_KEY_CHECKSUM_LEN), sum);
		if (memcmp(sum, key + len - API_KEY_CHECKSUM_LEN, API_KEY_CHECKSUM_LEN) != 0)
			FAIL("native key accepted with a wrong checksum");
	}
	else
	{
		if (parts->id_len > API_KEY_FOREIGN_ID_MAXLEN || parts->secret_len > API_KEY_FOREIGN_SECRET_MAXLEN)
			FAIL("foreign key too long");
		for (size_t i = 0; i < parts->secret_len; i++)
			if (key[parts->secret_offset + i] < 0x21 || key[parts->secret_offset + i] > 0x7E)
				FAIL("foreign secret not visible ASCII");
	}
}

static void
fuzz_parse(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the end */
	char	   *key = malloc(size ? size : 1);
	ApiKeyParts parts;
	ApiKeyStatus status;

	memcpy(key, data, size);
	status = api_key_parse(key, size, &parts);
	if (api_key_status_message(status) == NULL)
		FAIL("no message for status %d", (int) status);
	if (status == API_KEY_OK)
		check_parsed(key, size, &parts);
	if (api_key_crc32((const unsigned char *) key, size) != reference_crc32((const unsigned char *) key, size))
		FAIL("crc32 differs from the bitwise reference");
	free(key);
}

static void
fuzz_assemble(const uint8_t *data, size_t size)
{
	char		chars[API_KEY_ID_LEN + API_KEY_RANDOM_LEN];
	char		out[API_KEY_LEN + 1];
	size_t		n = api_key_base62_from_random(data, size, chars, sizeof(chars));
	size_t		kept = 0;
	ApiKeyParts parts;

	for (size_t i = 0; i < size && kept < sizeof(chars); i++)
		kept += data[i] < API_KEY_BASE62_REJECT_FROM;
	if (n != kept)
		FAIL("sampler wrote %zu characters, expected %zu", n, kept);
	for (size_t i = 0; i < n; i++)
		if (!is_base62(chars[i]))
			FAIL("sampler wrote a non-base62 character");
	if (n < sizeof(chars))
		return;
	if (!api_key_assemble(chars, chars + API_KEY_ID_LEN, out, sizeof(out)))
		FAIL("assemble refused base62 input");
	if (strlen(out) != API_KEY_LEN)
		FAIL("assembled key has the wrong length");
	if (api_key_parse(out, API_KEY_LEN, &parts) != API_KEY_OK || parts.kind != API_KEY_NATIVE
		|| memcmp(out + parts.id_offset, chars, API_KEY_ID_LEN) != 0)
		FAIL("assembled key does not parse back as itself");
	check_parsed(out, API_KEY_LEN, &parts);
	/* one changed secret character: never accepted as the same native key */
	{
		size_t		pos = parts.secret_offset + data[0] % API_KEY_SECRET_LEN;

		out[pos] = out[pos] == 'a' ? 'b' : 'a';
		if (api_key_parse(out, API_KEY_LEN, &parts) == API_KEY_OK)
			FAIL("a key with a changed secret character still parses");
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_parse(data + 1, size - 1);
	else
		fuzz_assemble(data + 1, size - 1);
	return 0;
}
