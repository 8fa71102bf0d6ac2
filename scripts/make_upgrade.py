#!/usr/bin/env python3
"""Write sql/pg_optimizer--0.3.0--0.4.0.sql from the generated install script of this build (the
Rust functions new in 0.4.0) and the SQL files new in 0.4.0. Run once when the release is cut,
after `scripts/install.sh`; the written file is then frozen (tests/integration/test_upgrade.py
checks its checksum once it is listed as released)."""
import re
import subprocess

share = subprocess.run(["pg_config", "--sharedir"], capture_output=True, text=True, check=True).stdout.strip()
gen = open(f"{share}/extension/pg_optimizer--0.4.0.sql").read()
blocks = []
for name in ["partition_request", "run_in_worker_as", "autoindex_candidates", "disk_space", "index_findings",
             "export_workload", "import_workload", "lint_statements", "lint_sql", "lint_coverage", "lint_rules",
             "index_advice_json", "report"]:
    m = re.search(r'CREATE\s+FUNCTION "%s"\(.*?;\n' % name, gen, re.S)
    blocks.append(re.sub(r'^CREATE\s+FUNCTION "([a-z_]+)"\(', r'CREATE FUNCTION @extschema@."\1"(', m.group(0)))
hdr = """-- pg_optimizer 0.3.0 -> 0.4.0. Released with 0.4.0: never edit (a test checks its checksum); the
-- next release chains a new file after it.
--
-- What changes: partition sets (tables partition_sets, partition_log, partition_work; views
-- partitions and partition_progress; partition_table, maintain_partitions, undo_partitioning and
-- the built-in job maintain_partitions), partition_advice, create_index (the shared CONCURRENTLY
-- index path) and run_in_worker_as, and auto-indexing (index_actions, autoindex_run,
-- autoindex_verify and their built-in jobs), and the insights (health() and its views). Of what
-- exists in 0.3.0 two functions change: reindex_bloated reads its estimate from the new
-- index_bloat_estimates (shared with the view index_bloat), and index_advice takes `sources`
-- (imported workloads: import_workload, export_workload). New too: the linter (lint,
-- lint_sql, lint_rules, lint_coverage), index_advice_json and report.

\\echo Use "ALTER EXTENSION pg_optimizer UPDATE TO '0.4.0'" to load this file. \\quit

"""
body = hdr + "\n".join(blocks)
# index_advice gains `sources` (imported workloads): the 0.3.0 signature goes, the new one comes.
m = re.search(r'CREATE\s+FUNCTION "index_advice"\(.*?;\n', gen, re.S)
body += "\nDROP FUNCTION @extschema@.index_advice(integer, integer, boolean);\n" + re.sub(
    r'^CREATE\s+FUNCTION "([a-z_]+)"\(', r'CREATE FUNCTION @extschema@."\1"(', m.group(0))


def sql_function(path, name, replace=False):
    """One CREATE FUNCTION of a SQL file, through the COMMENT ON FUNCTION after it."""
    text = open(path).read()
    m = re.search(r"^CREATE FUNCTION @extschema@\.%s\(.*?^COMMENT ON FUNCTION @extschema@\.%s\(.*?;\n(?:  .*\n)*" % (name, name), text, re.S | re.M)
    block = m.group(0)
    return block.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1) if replace else block


# Changed in 0.4.0, from maintenance.sql (0.3.0's): the shared bloat estimate, and reindex_bloated on it.
body += "\n" + sql_function("src/sql/maintenance.sql", "index_bloat_estimates")
body += "\n" + sql_function("src/sql/maintenance.sql", "reindex_bloated", replace=True)
# In the order of their extension_sql_file! lines in src/lib.rs (history.sql is 0.3.0's).
for f in ["partitions", "partition_advice", "indexes", "autoindex", "insights_storage", "insights_statistics", "insights_activity",
          "workload", "lint", "insights"]:
    body += "\n" + open(f"src/sql/{f}.sql").read()
open("sql/pg_optimizer--0.3.0--0.4.0.sql", "w").write(body)
print("wrote sql/pg_optimizer--0.3.0--0.4.0.sql")
