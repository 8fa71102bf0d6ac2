"""The upgrade path: each earlier release's install script (sql/pg_optimizer--X.sql, frozen)
followed by the chained upgrade scripts must give exactly the catalog of a fresh install of this
version (functions with their signatures, results, volatility, strictness, parallel safety and
symbols; views with their definitions and columns; grants; comments); the new library serves the
old SQL definitions until ALTER EXTENSION ... UPDATE; released scripts are never edited."""

import hashlib
import os
import time

import pytest

from test_predicates import new_cluster

PORT = 5498
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CURRENT = "0.4.0"
EARLIER = ["0.1.0", "0.2.0", "0.3.0"]

# Scripts of released versions: never edited once released (a new release adds files and their
# checksums here).
RELEASED = {
    "pg_optimizer--0.1.0.sql": "6c15d214d2e16e21ad7f63f96027b899443bbb0cf9d4ce6e7800cbb0fddd8b2f",
    "pg_optimizer--0.1.0--0.2.0.sql": "ce8264f186563814858d5e36e44b74f0ba31bc805ad0415b6c9671b5375276c0",
    "pg_optimizer--0.2.0.sql": "aa6ed54799bb010740048b6cb02f267f6bc425099dae6b15d6ed29c35980edaf",
    "pg_optimizer--0.2.0--0.3.0.sql": "6533081e9ad6664339ae9cad99e7a05b2648ae80a0036bca26d27c4b1f0f5102",
    "pg_optimizer--0.3.0.sql": "180a7eaddd58bd854e242f5b6cd2eaff5014cc25f5daec90800b3deffbf3304d",
}

# Everything an extension owns, described so that two databases can be compared line by line.
CATALOG = r"""
WITH ext AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND e.extname = 'pg_optimizer' AND d.deptype = 'e')
SELECT 'function ' || p.oid::regprocedure::text || ' returns ' || pg_catalog.pg_get_function_result(p.oid)
       || ' volatile=' || p.provolatile::text || ' strict=' || p.proisstrict::text || ' parallel=' || p.proparallel::text
       || ' secdef=' || p.prosecdef::text || ' symbol=' || p.prosrc || ' acl=' || coalesce(p.proacl::text, '-')
       || ' config=' || coalesce(p.proconfig::text, '-')
       || ' comment=' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '-')
  FROM ext JOIN pg_catalog.pg_proc p ON ext.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = ext.objid
UNION ALL
SELECT 'relation ' || c.oid::regclass::text || ' kind=' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '-')
       || ' columns=' || (SELECT pg_catalog.string_agg(a.attname || ':' || pg_catalog.format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
                            FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
       || ' comment=' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '-')
       || ' definition=' || coalesce(pg_catalog.pg_get_viewdef(c.oid), '-')
  FROM ext JOIN pg_catalog.pg_class c ON ext.classid = 'pg_catalog.pg_class'::regclass AND c.oid = ext.objid
UNION ALL
SELECT 'relation ' || c.oid::regclass::text || ' rls=' || c.relrowsecurity::text || ' constraint ' || k.conname || ' '
       || pg_catalog.pg_get_constraintdef(k.oid)
  FROM ext JOIN pg_catalog.pg_class c ON ext.classid = 'pg_catalog.pg_class'::regclass AND c.oid = ext.objid
  JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid
UNION ALL
SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
  FROM ext JOIN pg_catalog.pg_index i ON ext.classid = 'pg_catalog.pg_class'::regclass AND i.indrelid = ext.objid
UNION ALL
SELECT 'policy ' || p.schemaname || '.' || p.tablename || ' ' || p.policyname || ' ' || p.cmd || ' ' || p.roles::text
       || ' using=' || coalesce(p.qual, '-') || ' check=' || coalesce(p.with_check, '-')
  FROM pg_catalog.pg_policies p WHERE p.schemaname = 'optimizer'
UNION ALL
SELECT 'dumped ' || c::regclass::text || ' ' || coalesce(e.extcondition[i], '')
  FROM pg_catalog.pg_extension e, unnest(e.extconfig) WITH ORDINALITY AS u(c, i) WHERE e.extname = 'pg_optimizer'
UNION ALL
SELECT 'object ' || pg_catalog.pg_describe_object(ext.classid, ext.objid, 0)
  FROM ext WHERE ext.classid NOT IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_class'::regclass)
UNION ALL
SELECT 'schema ' || n.nspname || ' acl=' || coalesce(n.nspacl::text, '-') FROM pg_catalog.pg_namespace n WHERE n.nspname = 'optimizer'
ORDER BY 1
"""


@pytest.fixture(scope="module")
def uc():
    c = new_cluster("upgrade", PORT)
    yield c
    c.assert_healthy_log()
    c.stop()


def test_released_scripts_are_never_edited():
    for name, digest in RELEASED.items():
        with open(os.path.join(ROOT, "sql", name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, f"sql/{name} was released and must not change"


def test_every_release_has_a_path_to_this_version(uc):
    c = uc
    assert c.value("SELECT default_version FROM pg_available_extensions WHERE name = 'pg_optimizer'") == CURRENT
    # Every version whose install script ships can reach the current one.
    paths = c.psql("SELECT source, path FROM pg_extension_update_paths('pg_optimizer') "
                   f"WHERE target = '{CURRENT}' AND path IS NOT NULL ORDER BY 1")
    assert paths == [["0.1.0", "0.1.0--0.2.0--0.3.0--0.4.0"], ["0.2.0", "0.2.0--0.3.0--0.4.0"], ["0.3.0", "0.3.0--0.4.0"]], paths


@pytest.mark.parametrize("PREVIOUS", EARLIER)
def test_upgrade_from_an_earlier_release_gives_the_fresh_catalog(uc, PREVIOUS):
    c = uc
    for db in ("old_release", "fresh_install"):
        c.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        c.psql(f"CREATE DATABASE {db}")
    c.psql(f"CREATE EXTENSION pg_optimizer VERSION '{PREVIOUS}'", db="old_release")
    assert c.value("SELECT extversion FROM pg_extension WHERE extname = 'pg_optimizer'", db="old_release") == PREVIOUS
    old_catalog = c.psql(CATALOG, db="old_release")
    # The new library serves the old definitions (their result rows are a prefix of the new ones)
    # until the update: recording and reading go on.
    c.psql("CREATE TABLE before_update AS SELECT 1 AS a; SELECT a FROM before_update WHERE a = 1;", db="old_release")
    assert c.psql("SELECT calls, query FROM optimizer.statements WHERE query LIKE 'SELECT a FROM before_update%' "
                  "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                  db="old_release") == [["1", "SELECT a FROM before_update WHERE a = $1"]]
    c.psql("ALTER EXTENSION pg_optimizer UPDATE", db="old_release")
    assert c.value("SELECT extversion FROM pg_extension WHERE extname = 'pg_optimizer'", db="old_release") == CURRENT
    c.psql("CREATE EXTENSION pg_optimizer", db="fresh_install")
    upgraded = c.psql(CATALOG, db="old_release")
    fresh = c.psql(CATALOG, db="fresh_install")
    # Premise: the two versions differ (else this test compares nothing).
    assert old_catalog != fresh
    missing = [r for r in fresh if r not in upgraded]
    extra = [r for r in upgraded if r not in fresh]
    assert (missing, extra) == ([], []), f"after the update, missing: {missing}\nextra: {extra}"
    # The built-in job came with the update, and the scheduler serves the updated database.
    assert c.psql("SELECT name, builtin FROM optimizer.jobs ORDER BY name", db="old_release") == \
        [["autoindex_run", "t"], ["autoindex_verify", "t"], ["maintain_partitions", "t"], ["statement_history", "t"]]
    deadline = time.time() + 20
    while not c.psql("SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_optimizer scheduler' AND datname = 'old_release'"):
        assert time.time() < deadline, "no scheduler in the updated database"
        time.sleep(0.2)
    # The statistics recorded before the update are still there, now with the new columns.
    assert c.psql("SELECT calls, query_truncated FROM optimizer.statements WHERE query LIKE 'SELECT a FROM before_update%' "
                  "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                  db="old_release") == [["1", "f"]]
