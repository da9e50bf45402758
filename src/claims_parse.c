/*
 * claims_parse.c
 *      The byte-level parsers behind user_id(), session_id() and scopes().
 *
 * They see attacker-controlled text (a JWT's sub, session_id and scope), so
 * they are kept free of server calls and fuzzed on their own (fuzz/).
 */
#include "claims_parse.h"

static inline int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Canonical 8-4-4-4-12 hex form, as Supabase Auth writes every uuid. */
bool
claims_parse_uuid(const char *s, int len, unsigned char *out)
{
	int			byte = 0;

	if (len != CLAIMS_UUID_TEXT_LEN)
		return false;
	for (int i = 0; i < CLAIMS_UUID_TEXT_LEN;)
	{
		int			hi,
					lo;

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i++] != '-')
				return false;
			continue;
		}
		hi = hex_value(s[i]);
		lo = hex_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[byte++] = (unsigned char) (hi << 4 | lo);
		i += 2;
	}
	return true;
}

bool
claims_lower_uuid(char *s, int len)
{
	unsigned char bytes[CLAIMS_UUID_BYTES];

	if (!claims_parse_uuid(s, len, bytes))
		return false;
	for (int i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			s[i] = (char) (s[i] - 'A' + 'a');
	return true;
}

int
claims_next_scope(const char *scope, int len, int *pos, int *start)
{
	int			i = *pos;

	while (i < len && scope[i] == ' ')
		i++;
	*start = i;
	while (i < len && scope[i] != ' ')
		i++;
	*pos = i;
	return i - *start;
}
