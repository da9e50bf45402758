/*
 * statement_hooks.c
 *      Top-level statement boundaries for the per-statement caches.
 *
 * What is read "once per statement" (auth.sessions, and invalidations
 * committed by others) is keyed by the cache epoch, which moves when the
 * statement start time changes (invalidation.h).  But PostgreSQL sets that
 * time once per client message: the statements of one simple Query message
 * ("SELECT ...; SELECT ...;", as psql -c, scripts and batch clients send
 * them) share it, so a session revoked, or a client blocked, between two of
 * them went unseen until the next message.  These hooks move the epoch at
 * the start of every top-level statement as well.
 *
 * Top level: an ExecutorStart or ProcessUtility outside any other
 * statement's execution, counted as pg_stat_statements counts it (ExecutorRun,
 * ExecutorFinish and ProcessUtility nest; errors unwind the count).  Nested
 * statements (a policy's SQL helper called per row, SPI in plpgsql) never
 * move it, so per-row caching inside one statement is kept.  Should the
 * count ever be off, the start-time check still holds: this only adds moves.
 */
#include "postgres.h"

#include "executor/executor.h"
#include "tcop/utility.h"

#include "invalidation.h"
#include "statement_hooks.h"

static int	nesting = 0;
static ExecutorStart_hook_type prev_start = NULL;
static ExecutorRun_hook_type prev_run = NULL;
static ExecutorFinish_hook_type prev_finish = NULL;
static ProcessUtility_hook_type prev_utility = NULL;

static void
top_level_statement(void)
{
	if (nesting == 0)
		oauth_rls_epoch_new_statement();
}

static void
statement_start(QueryDesc *queryDesc, int eflags)
{
	top_level_statement();
	if (prev_start)
		prev_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

#if PG_VERSION_NUM >= 180000
static void
statement_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count)
#else
static void
statement_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once)
#endif
{
	nesting++;
	PG_TRY();
	{
#if PG_VERSION_NUM >= 180000
		if (prev_run)
			prev_run(queryDesc, direction, count);
		else
			standard_ExecutorRun(queryDesc, direction, count);
#else
		if (prev_run)
			prev_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
#endif
	}
	PG_FINALLY();
	{
		nesting--;
	}
	PG_END_TRY();
}

static void
statement_finish(QueryDesc *queryDesc)
{
	nesting++;
	PG_TRY();
	{
		if (prev_finish)
			prev_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		nesting--;
	}
	PG_END_TRY();
}

static void
statement_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				  ProcessUtilityContext context, ParamListInfo params,
				  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	/*
	 * A utility statement may end the transaction (COMMIT, ROLLBACK) or run
	 * outside one (VACUUM): the epoch moves without touching the catalogs,
	 * and invalidations are applied by the next statement that reads.
	 */
	if (nesting == 0)
	{
		if (IsTransactionState())
			top_level_statement();
		else
			oauth_rls_cache_epoch++;
	}
	nesting++;
	PG_TRY();
	{
		if (prev_utility)
			prev_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		nesting--;
	}
	PG_END_TRY();
}

void
statement_hooks_init(void)
{
	prev_start = ExecutorStart_hook;
	ExecutorStart_hook = statement_start;
	prev_run = ExecutorRun_hook;
	ExecutorRun_hook = statement_run;
	prev_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = statement_finish;
	prev_utility = ProcessUtility_hook;
	ProcessUtility_hook = statement_utility;
}
