# oauth_rls: PGXS build.  `make && make install` against the pg_config on PATH.
EXTENSION  = oauth_rls
EXTVERSION = 0.1.0
MODULE_big = oauth_rls

# C split by concern: one .c and one .h per module under src/.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is assembled from ordered parts in sql/install/, so each
# concern keeps its SQL next to the others without one huge file.
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql))

# pg_regress inputs: every sql/*.sql that is not an install or upgrade script.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=$(EXTENSION)

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = -lcrypto

EXTRA_CLEAN = results/ output_iso/ regression.diffs regression.out tmp_check/

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h)

$(DATA_built): $(INSTALL_PARTS)
	cat $^ > $@
