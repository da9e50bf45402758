/*
 * fuzz_scopes.c
 *      libFuzzer harness for claims_next_scope(), which splits the scope
 *      claim that has_scope() and scopes() answer from.
 *
 * fuzz-sources: src/claims_parse.c
 *
 * Checks that the tokens are non-empty, hold no space, stay inside the
 * input, come in order, cover every non-space byte exactly once, and number
 * at most len / 2 + 1 (the array claims.c allocates for them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims_parse.h"

#define FAIL(msg) do { fprintf(stderr, "claims_next_scope: %s\n", msg); abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s;
	int			len;
	int			pos = 0;
	int			start;
	int			toklen;
	int			n = 0;
	int			covered = 0;
	int			nonspace = 0;
	int			last_end = 0;

	if (size > 1 << 20)
		return 0;
	len = (int) size;
	s = malloc(size ? size : 1);
	memcpy(s, data, size);
	for (int i = 0; i < len; i++)
		nonspace += s[i] != ' ';

	while ((toklen = claims_next_scope(s, len, &pos, &start)) > 0)
	{
		if (start < last_end || start + toklen > len || pos != start + toklen)
			FAIL("token out of order or out of bounds");
		if (start > 0 && s[start - 1] != ' ')
			FAIL("token does not start at a word boundary");
		if (start + toklen < len && s[start + toklen] != ' ')
			FAIL("token does not end at a word boundary");
		if (memchr(s + start, ' ', toklen) != NULL)
			FAIL("token holds a space");
		covered += toklen;
		last_end = start + toklen;
		if (++n > len / 2 + 1)
			FAIL("more tokens than claims.c allocates for");
	}
	if (pos > len || covered != nonspace)
		FAIL("tokens do not cover the input");
	free(s);
	return 0;
}
