/*
 * oauth_rls.c
 *      Module entry point: the extension's own settings and initialisation.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/resowner.h"
#include "utils/guc.h"

#include "api_keys.h"
#include "claims.h"
#include "counters.h"
#include "hook.h"
#include "invalidation.h"
#include "oauth_rls.h"
#include "policies.h"

PG_MODULE_MAGIC;

const char *const oauth_tier_labels[TIER_COUNT] = {
	"direct", "first_party", "third_party", "blocked"
};

int			oauth_rls_unregistered_tier = TIER_THIRD_PARTY;

/* Only the two tiers that never widen access are accepted. */
static const struct config_enum_entry unregistered_tier_options[] = {
	{"third_party", TIER_THIRD_PARTY, false},
	{"blocked", TIER_BLOCKED, false},
	{NULL, 0, false}
};

static void
assign_cached_setting(int newval, void *extra)
{
	oauth_rls_request_generation++;
}

ErrorData *
oauth_rls_try_in_subtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}

void		_PG_init(void);

void
_PG_init(void)
{
	claims_init();
	invalidation_init();
	api_keys_init();

	DefineCustomEnumVariable("oauth_rls.unregistered_client_tier",
							 "Tier of an OAuth client that is not in oauth_rls.clients.",
							 "third_party (default) or blocked; first_party is never implied.",
							 &oauth_rls_unregistered_tier, TIER_THIRD_PARTY,
							 unregistered_tier_options,
							 PGC_USERSET, 0, NULL, assign_cached_setting, NULL);
	policies_init();

	hook_init();
	counters_init();

	/* Every oauth_rls.* setting is defined above this line. */
	MarkGUCPrefixReserved("oauth_rls");
}
