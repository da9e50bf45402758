# oauth_rls: PGXS build.  `make && make install` against the pg_config on PATH.
EXTENSION  = oauth_rls
EXTVERSION = 0.2.0
MODULE_big = oauth_rls

# C split by concern: one .c and one .h per module under src/.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is assembled from ordered parts in sql/install/, so each
# concern keeps its SQL next to the others without one huge file.  Released
# versions' install scripts are frozen as committed (sql/oauth_rls--0.1.0.sql);
# the upgrade script from the last release is assembled the same way from
# sql/upgrade/<from>--<to>/*.sql.
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
UPGRADE_FROM = 0.1.0
UPGRADE_PARTS = $(sort $(wildcard sql/upgrade/$(UPGRADE_FROM)--$(EXTVERSION)/*.sql))
UPGRADE_SCRIPT = sql/$(EXTENSION)--$(UPGRADE_FROM)--$(EXTVERSION).sql
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql $(UPGRADE_SCRIPT)
DATA = sql/$(EXTENSION)--0.1.0.sql

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

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

$(UPGRADE_SCRIPT): $(UPGRADE_PARTS)
	cat $^ > $@
