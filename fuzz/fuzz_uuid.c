/*
 * fuzz_uuid.c
 *      libFuzzer harness for claims_parse_uuid(), which reads the sub and
 *      session_id claims of every request, and claims_lower_uuid(), which
 *      canonicalises a client_id claim.
 *
 * fuzz-sources: src/claims_parse.c
 *
 * Besides "no crash, no sanitizer report", it checks the answer against a
 * second, deliberately naive reading of the canonical form: accepting
 * anything else would let a malformed sub pass as a user id.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims_parse.h"

static int
is_canonical(const char *s, size_t len)
{
	if (len != 36)
		return 0;
	for (size_t i = 0; i < len; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return 0;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return 0;
	}
	return 1;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the end */
	char	   *s = malloc(size ? size : 1);
	unsigned char out[CLAIMS_UUID_BYTES];
	int			ok;

	memcpy(s, data, size);
	ok = claims_parse_uuid(s, (int) size, out);
	if (ok != is_canonical(s, size))
	{
		fprintf(stderr, "claims_parse_uuid answered %d for a %s input\n", ok,
				is_canonical(s, size) ? "canonical" : "non-canonical");
		abort();
	}
	if (ok)
	{
		char		back[37];

		snprintf(back, sizeof(back),
				 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
				 out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7],
				 out[8], out[9], out[10], out[11], out[12], out[13], out[14], out[15]);
		for (int i = 0; i < 36; i++)
			if (tolower((unsigned char) s[i]) != back[i])
			{
				fprintf(stderr, "claims_parse_uuid decoded byte %d wrongly\n", i);
				abort();
			}
	}
	/* claims_lower_uuid: the same answer; a uuid becomes its canonical text */
	if (claims_lower_uuid(s, (int) size) != ok)
	{
		fprintf(stderr, "claims_lower_uuid disagrees with claims_parse_uuid\n");
		abort();
	}
	for (size_t i = 0; i < size; i++)
		if (ok ? s[i] != (char) tolower((unsigned char) data[i]) : s[i] != (char) data[i])
		{
			fprintf(stderr, "claims_lower_uuid changed byte %zu wrongly\n", i);
			abort();
		}
	free(s);
	return 0;
}
