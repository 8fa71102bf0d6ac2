# pg_optimizer: two commands matter.
#   make demo   install prerequisites, build, start a preloaded cluster, run a sample workload,
#               print optimizer.statements, and leave the cluster running
#   make test   install prerequisites and run every test tier
SHELL := /bin/bash
PGDATA_TEST ?= /tmp/pg_optimizer-pgtest
RUNAS := $(shell [ "$$(id -u)" = 0 ] && echo "--runas postgres")

.PHONY: demo test prereqs unit pgtest install regress integration fuzz-ci fuzz bench bench-advisor bench-scheduler bench-partitions bench-autoindex bench-insights bench-advisor-scale demo-stop clean

prereqs:
	scripts/prereqs.sh

# Tier 1: the layer rule (no module uses one above it), then the pure core's plain #[test]s, no
# PostgreSQL needed (seconds on a warm build).
unit:
	python3 scripts/check_layers.py
	cargo test -p pg_optimizer_core

# Tier 2: #[pg_test] (SQL in a preloaded server) and the glue crate's own #[test]s.
pgtest: prereqs
	cargo pgrx test pg15 $(RUNAS) --pgdata $(PGDATA_TEST)

install: prereqs
	scripts/install.sh

# Tier 2: golden files with pg_regress.
regress: install
	scripts/regress.sh

# Tier 3: real preloaded clusters (restarts, concurrency, eviction, hook chaining).
integration: install
	python3 -m pytest -q tests/integration

# Tier 4: sqlsmith against a preloaded cluster (track = all, everything sampled) while two sessions
# define hypothetical indexes and run the advisor; fails on a crash or a log line of ours (~1.5 minutes).
fuzz-ci: install
	scripts/fuzz.sh 5000

# The long fuzz run: 20,000 sqlsmith queries (figures in the README; not part of `make test`).
fuzz: install
	scripts/fuzz.sh 20000

test: prereqs unit pgtest regress integration fuzz-ci

demo: prereqs
	PROFILE=release scripts/install.sh
	scripts/demo.sh

demo-stop:
	scripts/demo.sh stop

bench:
	WITH_PEERS=1 scripts/prereqs.sh
	PROFILE=release scripts/install.sh
	bench/overhead.sh

# The job scheduler against pg_cron: start lateness of 100 jobs every minute (and every 10 s where
# both support it), 5 minutes idle then 5 under pgbench, each system in turn (~25 min).
bench-scheduler:
	WITH_PEERS=1 scripts/prereqs.sh
	PROFILE=release scripts/install.sh
	bench/scheduler.sh

# Partition maintenance against pg_partman: a 365-partition daily set, 30 simulated days
# (libfaketime) of partman.run_maintenance() vs optimizer.maintain_partitions(), then the
# default-partition case pg_partman errors on (~2 min).
bench-partitions:
	WITH_PEERS=1 scripts/prereqs.sh
	PROFILE=release scripts/install.sh
	bench/partitions.sh

# Auto-indexing under an app-like pgbench load (users, orders, order_items, events; primary keys
# only): 3 minutes with pg_optimizer.autoindex = 'apply', TPS and p95 of the first and the last
# minute, the indexes created and kept (~5 min).
bench-autoindex:
	WITH_PEERS=1 scripts/prereqs.sh
	PROFILE=release scripts/install.sh
	bench/autoindex.sh

# optimizer.health() on 10,000 tables against PgHero's checks (its catalog SQL, same areas), 10
# runs each in alternating order, plus the locks each side holds (~5 min).
bench-insights:
	WITH_PEERS=1 scripts/prereqs.sh
	PROFILE=release scripts/install.sh
	bench/insights.sh

# The advisor on 5,000 recorded statements of 500 shapes: default cap vs the cap lifted (~5 minutes).
bench-advisor-scale:
	PROFILE=release scripts/install.sh
	bench/advisor_scale.sh

# The index advisor against a single-column HypoPG advisor on TPC-H SF 1, the matrix of issue 17:
# random_page_cost 4 and 1.1, budgets 1024 MB and tight (~17 min; ARMS=a,b,c,d adds pg_qualstats).
bench-advisor:
	WITH_PEERS=1 scripts/prereqs.sh
	PROFILE=release scripts/install.sh
	bench/tpch_advisor.sh

clean:
	cargo clean
