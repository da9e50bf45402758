/*
 * jwt_json.c
 *      The strict JSON of a token's header and payload, parsed once.
 *
 * A token's parts must be one JSON object each, not too deep, with no key
 * twice in one object (two parsers taking different copies of a duplicated
 * claim is a classic confusion).  jsonb_in would silently keep the last copy,
 * so checking that took a second pass of the parser, and jsonb_in then sorted
 * every object with qsort: together two thirds of a first HS256
 * verification.  Here PostgreSQL's JSON parser (pg_parse_json) runs once,
 * with semantic actions that build the JsonbValue tree directly, sort each
 * object's keys in jsonb's order (by length, then bytes) and refuse a key
 * that sorts equal to its neighbour.  The claims are read from that tree
 * (a binary search of sorted pairs, no copy), and only the payload is
 * turned into a jsonb, once.  No value of the text is ever reported.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "jwt_json.h"

#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#define SEM_RESULT JsonParseErrorType
#define SEM_DONE(s) return (s)->status == JWT_JSON_OK ? JSON_SUCCESS : JSON_SEM_ACTION_FAILED
#else
#define SEM_RESULT void
#define SEM_DONE(s) return
#endif

/* An object or array being built. */
typedef struct Frame
{
	JsonbValue	v;				/* jbvObject or jbvArray */
	int			cap;			/* allocated pairs or elems */
	char	   *key;			/* object: the key whose value comes next */
} Frame;

typedef struct BuildState
{
	JwtJsonStatus status;		/* first refusal; later events are skipped */
	int			max_depth;
	int			depth;			/* open containers */
	Frame	   *frames;			/* [max_depth] */
	JsonbValue	root;
	bool		has_root;
} BuildState;

/* jsonb's key order: shorter first, then bytewise (lengthCompareJsonbString). */
static inline int
key_cmp(const JsonbPair *a, const JsonbPair *b)
{
	int			la = a->key.val.string.len;
	int			lb = b->key.val.string.len;

	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(a->key.val.string.val, b->key.val.string.val, la);
}

static int
key_qsort_cmp(const void *a, const void *b)
{
	return key_cmp((const JsonbPair *) a, (const JsonbPair *) b);
}

/*
 * Sorts an object's pairs; false when two keys are equal.  Claims objects
 * are small (a Supabase payload has about sixteen keys): insertion sort
 * there, qsort beyond.
 */
static bool
sort_unique_pairs(JsonbPair *pairs, int n)
{
	if (n <= 24)
	{
		for (int i = 1; i < n; i++)
		{
			JsonbPair	p = pairs[i];
			int			j = i - 1;
			int			c = 1;

			while (j >= 0 && (c = key_cmp(&pairs[j], &p)) > 0)
			{
				pairs[j + 1] = pairs[j];
				j--;
			}
			if (j >= 0 && c == 0)
				return false;
			pairs[j + 1] = p;
		}
		return true;
	}
	qsort(pairs, n, sizeof(JsonbPair), key_qsort_cmp);
	for (int i = 1; i < n; i++)
		if (key_cmp(&pairs[i - 1], &pairs[i]) == 0)
			return false;
	return true;
}

static void
refuse_with(BuildState *s, JwtJsonStatus status)
{
	if (s->status == JWT_JSON_OK)
		s->status = status;
}

/* Adds a finished value to the open container, or makes it the root. */
static void
attach(BuildState *s, const JsonbValue *value)
{
	Frame	   *f;

	if (s->depth == 0)
	{
		s->root = *value;
		s->has_root = true;
		return;
	}
	f = &s->frames[s->depth - 1];
	if (f->v.type == jbvObject)
	{
		int			n = f->v.val.object.nPairs;

		if (n == f->cap)
		{
			f->cap *= 2;
			f->v.val.object.pairs = repalloc(f->v.val.object.pairs, f->cap * sizeof(JsonbPair));
		}
		f->v.val.object.pairs[n].key.type = jbvString;
		f->v.val.object.pairs[n].key.val.string.val = f->key;
		f->v.val.object.pairs[n].key.val.string.len = strlen(f->key);
		f->v.val.object.pairs[n].value = *value;
		f->v.val.object.pairs[n].order = n;
		f->v.val.object.nPairs = n + 1;
	}
	else
	{
		int			n = f->v.val.array.nElems;

		if (n == f->cap)
		{
			f->cap *= 2;
			f->v.val.array.elems = repalloc(f->v.val.array.elems, f->cap * sizeof(JsonbValue));
		}
		f->v.val.array.elems[n] = *value;
		f->v.val.array.nElems = n + 1;
	}
}

static void
open_container(BuildState *s, bool object)
{
	Frame	   *f;

	if (s->status != JWT_JSON_OK)
		return;
	if (s->depth >= s->max_depth)
	{
		refuse_with(s, JWT_JSON_TOO_DEEP);
		return;
	}
	f = &s->frames[s->depth++];
	f->cap = 16;
	f->key = NULL;
	if (object)
	{
		f->v.type = jbvObject;
		f->v.val.object.nPairs = 0;
		f->v.val.object.pairs = palloc(f->cap * sizeof(JsonbPair));
	}
	else
	{
		f->v.type = jbvArray;
		f->v.val.array.nElems = 0;
		f->v.val.array.rawScalar = false;
		f->v.val.array.elems = palloc(f->cap * sizeof(JsonbValue));
	}
}

static void
close_container(BuildState *s)
{
	JsonbValue	v;

	if (s->status != JWT_JSON_OK)
		return;
	v = s->frames[--s->depth].v;
	if (v.type == jbvObject && !sort_unique_pairs(v.val.object.pairs, v.val.object.nPairs))
	{
		refuse_with(s, JWT_JSON_DUPLICATE_KEY);
		return;
	}
	attach(s, &v);
}

static SEM_RESULT
on_object_start(void *state)
{
	open_container(state, true);
	SEM_DONE((BuildState *) state);
}

static SEM_RESULT
on_array_start(void *state)
{
	open_container(state, false);
	SEM_DONE((BuildState *) state);
}

static SEM_RESULT
on_end(void *state)
{
	close_container(state);
	SEM_DONE((BuildState *) state);
}

static SEM_RESULT
on_field(void *state, char *fname, bool isnull)
{
	BuildState *s = state;

	if (s->status == JWT_JSON_OK)
		s->frames[s->depth - 1].key = fname;
	SEM_DONE(s);
}

/* A JSON number as numeric, or false when numeric cannot hold it. */
static bool
to_numeric(char *token, Numeric *out)
{
#if PG_VERSION_NUM >= 160000
	ErrorSaveContext escontext = {.type = T_ErrorSaveContext};
	Datum		d;

	if (!DirectInputFunctionCallSafe(numeric_in, token, InvalidOid, -1, (Node *) &escontext, &d))
		return false;
	*out = DatumGetNumeric(d);
	return true;
#else
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	/* numeric_in allocates only; its data errors are caught without a subtransaction. */
	PG_TRY();
	{
		*out = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
#endif
}

static SEM_RESULT
on_scalar(void *state, char *token, JsonTokenType type)
{
	BuildState *s = state;
	JsonbValue	v;

	if (s->status != JWT_JSON_OK)
		SEM_DONE(s);
	switch (type)
	{
		case JSON_TOKEN_STRING:
			v.type = jbvString;
			v.val.string.val = token;
			v.val.string.len = strlen(token);
			break;
		case JSON_TOKEN_NUMBER:
			v.type = jbvNumeric;
			if (!to_numeric(token, &v.val.numeric))
			{
				refuse_with(s, JWT_JSON_BAD_NUMBER);
				SEM_DONE(s);
			}
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = type == JSON_TOKEN_TRUE;
			break;
		default:
			v.type = jbvNull;
			break;
	}
	attach(s, &v);
	SEM_DONE(s);
}

JwtJsonStatus
jwt_json_parse(char *bytes, size_t len, int max_depth, JsonbValue **out)
{
	BuildState	s = {0};
	JsonSemAction sem = {0};
	JsonLexContext *lex;
	JsonParseErrorType err;

	*out = NULL;
	s.max_depth = max_depth;
	s.frames = palloc(max_depth * sizeof(Frame));
	sem.semstate = &s;
	sem.object_start = on_object_start;
	sem.object_end = on_end;
	sem.array_start = on_array_start;
	sem.array_end = on_end;
	sem.object_field_start = on_field;
	sem.scalar = on_scalar;
#if PG_VERSION_NUM >= 170000
	lex = makeJsonLexContextCstringLen(NULL, bytes, len, GetDatabaseEncoding(), true);
#else
	lex = makeJsonLexContextCstringLen(bytes, (int) len, GetDatabaseEncoding(), true);
#endif
	err = pg_parse_json(lex, &sem);
	if (s.status != JWT_JSON_OK)
		return s.status;
	if (err != JSON_SUCCESS)
		return JWT_JSON_INVALID;
	if (!s.has_root || s.root.type != jbvObject)
		return JWT_JSON_NOT_OBJECT;
	*out = palloc(sizeof(JsonbValue));
	**out = s.root;
	return JWT_JSON_OK;
}

const JsonbValue *
jwt_json_member(const JsonbValue *obj, const char *name)
{
	JsonbPair	probe;
	int			lo = 0;
	int			hi = obj->val.object.nPairs;

	probe.key.val.string.val = (char *) name;
	probe.key.val.string.len = strlen(name);
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = key_cmp(&obj->val.object.pairs[mid], &probe);

		if (c == 0)
			return &obj->val.object.pairs[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
