/*
 * oauth_rls.c
 *      Module entry point: initialises every module and defines the settings
 *      that belong to no module of their own.  Shared helpers are in common.c.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "api_keys.h"
#include "claims.h"
#include "counters.h"
#include "hook.h"
#include "invalidation.h"
#include "oauth_rls.h"
#include "policies.h"
#include "statement_hooks.h"
#include "token_only.h"

PG_MODULE_MAGIC;

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
	oauth_rls_request_changed();
}

void		_PG_init(void);

void
_PG_init(void)
{
	/* First: the claim settings' check hooks read a cached table. */
	invalidation_init();
	claims_init();
	token_only_init();
	statement_hooks_init();
	api_keys_init();

	/*
	 * PGC_SUSET: changing it weakens a protection, so only superusers and
	 * roles granted SET on it (the extension's owner,
	 * sql/install/80_settings.sql) may, never the API roles.
	 */
	DefineCustomEnumVariable("oauth_rls.unregistered_client_tier",
							 "Tier of an OAuth client that is not in oauth_rls.clients.",
							 "third_party (default) or blocked; first_party is never implied.",
							 &oauth_rls_unregistered_tier, TIER_THIRD_PARTY,
							 unregistered_tier_options,
							 PGC_SUSET, 0, NULL, assign_cached_setting, NULL);
	policies_init();

	hook_init();
	counters_init();

	/* Every oauth_rls.* setting is defined above this line. */
	MarkGUCPrefixReserved("oauth_rls");
}
