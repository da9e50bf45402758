/*
 * bench_cputime.c
 *      bench_cpu_ns(): CPU time the calling backend has used, in nanoseconds.
 *
 * Only for bench/run, which installs it into its throwaway cluster.  On a
 * shared, loaded machine wall-clock time includes the time a backend waits
 * for a core; CPU time does not, so ratios measured with it stay stable.
 */
#include "postgres.h"

#include <time.h>

#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_cpu_ns);
Datum
bench_cpu_ns(PG_FUNCTION_ARGS)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: %m")));
	PG_RETURN_INT64((int64) ts.tv_sec * 1000000000 + ts.tv_nsec);
}
