-- Storage and housekeeping insights (issue 15): table_bloat, index_bloat, stale_statistics,
-- vacuum_health, wraparound_risk, cache_hit, sequence_exhaustion.
--
-- Every view lists findings only (a clean database gives no row) and ends with
--     severity text        'info' | 'warning' | 'critical'
--     evidence text        the numbers behind the finding
--     recommendation text  the SQL to run (SQL comments after it are advice), else advice text
-- They read the catalogs and the cumulative statistics only (pg_class, pg_stats, pg_stat_*,
-- pg_statio_*, pg_sequence and each sequence's own row): no table or index is read, no lock
-- above AccessShareLock is taken. (Not pg_sequences: its pg_sequence_last_value() opens each
-- sequence with RowExclusiveLock.)
-- Objects of the current database only. Sizes come from pg_class.relpages (as of the last
-- VACUUM / ANALYZE / CREATE INDEX), not from pg_relation_size, which would lock.
--
-- Thresholds (constants in the views) and severities:
--
-- table_bloat      Statistics-based estimate (the ioguix / PgHero method, not n_dead_tup): the
--                  expected heap size is reltuples rows of
--                      4 (line pointer) + MAXALIGN(23 + null bitmap) + MAXALIGN(sum over columns
--                      of (1 - null_frac) * (avg_width + alignment padding before the column))
--                  bytes each, packed into floor((block_size - 24) * fillfactor/100 / row) rows
--                  per page; bloat = relpages - expected pages (so dead rows not yet vacuumed
--                  count as waste). The padding is approximated from the unpadded offsets (short
--                  varlenas unaligned), and TOAST is left out (avg_width is the in-line width).
--                  Checked against pgstattuple: a table half dead after a mass update, 50.0 %
--                  estimated vs 49.8 % free; freshly loaded tables (pgbench_accounts, a table of
--                  7 mixed columns with nulls) 0 % vs 1.3-1.4 %; the worst case seen, narrow
--                  mixed-alignment columns (smallint, bigint, bool, bigint, int, timestamptz,
--                  short text), 6.5 % vs 0.4 %. Tables whose columns lack statistics (never
--                  analyzed) are left out: see stale_statistics.
--                  Listed when bloat >= 20 % and >= 10 MB.
--                  info     >= 20 % and >= 10 MB
--                  warning  >= 30 % and >= 10 MB
--                  critical >= 50 % and >= 1 GB
--                  Recommendation: VACUUM (ANALYZE) when >= 20 % of the rows are dead (n_dead_tup:
--                  the space is not even reusable yet), else VACUUM (FULL, ANALYZE) (ACCESS
--                  EXCLUSIVE lock for the rewrite) or, online, pg_repack.
-- index_bloat      The estimate of reindex_bloated (maintenance.sql: index_bloat_estimates, one
--                  implementation): btree only, the
--                  same exclusions, listed with reindex_bloated's defaults (bloat >= 30 % of the
--                  index and >= 10 MB), so a row here is an index reindex_bloated() would rebuild
--                  (if you may: the view lists every index, the function only yours).
--                  warning  >= 30 % and >= 10 MB
--                  critical >= 50 % and >= 1 GB
--                  Recommendation: REINDEX INDEX CONCURRENTLY (over 10 GB reindex_bloated skips it:
--                  said in the evidence).
-- stale_statistics The criteria of analyze_stale with its defaults, except the misestimate rule
--                  (it needs the preloaded library's shared memory, a view cannot fall back):
--                  never analyzed (no (auto)analyze recorded and nothing in pg_stats) but holding
--                  rows, or n_mod_since_analyze >= 1000 and >= 10 % of reltuples. Partitions of a
--                  partitioned table that is listed are left out (its ANALYZE covers them), and so
--                  are tables that belong to an extension (analyze_stale does not leave them out:
--                  on a fresh install it would list optimizer.jobs, 4 rows never analyzed).
--                  info     changed >= 1000 rows and >= 10 %
--                  warning  never analyzed with rows, or changed >= 50 % (or estimated empty)
--                  (no critical)
--                  Recommendation: ANALYZE.
-- vacuum_health    Tables and materialized views (not temporary ones), with
--                  dead    n_dead_tup >= 1000 and >= 20 % of n_live_tup + n_dead_tup
--                          (vacuum_needed's defaults)
--                  behind  n_dead_tup >= 1000 and above the table's own autovacuum trigger
--                          autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor * reltuples
--                          (reloptions first, then the settings), and either autovacuum is off
--                          (autovacuum = off, track_counts = off or autovacuum_enabled = false on
--                          the table) or no autovacuum in the last hour, and no VACUUM running on
--                          it now: autovacuum should have run but has not
--                  old     n_dead_tup >= 1000 and no (auto)vacuum for 7 days (or never)
--                  critical dead and behind with autovacuum off (nothing will clean it up)
--                  warning  dead, or behind
--                  info     old only
--                  Recommendation: VACUUM (ANALYZE); with autovacuum off for the table, ALTER
--                  TABLE ... RESET (autovacuum_enabled); with autovacuum on but behind, per-table
--                  settings (lower scale factor, cost delay).
-- wraparound_risk  The current database (datfrozenxid / datminmxid) and every table, system
--                  catalogs and temporary tables included (age of relfrozenxid of the table or
--                  its TOAST table, whichever is older, and mxid_age(relminmxid)):
--                  info     age >= 150 000 000 (vacuum_needed's freeze_age default, which is also
--                           the default vacuum_freeze_table_age)
--                  warning  age >= autovacuum_freeze_max_age (XIDs) or
--                           autovacuum_multixact_freeze_max_age (multixacts): the table's reloption
--                           when lower, as autovacuum does. Anti-wraparound autovacuum is due.
--                  critical age >= 1 500 000 000 (the hard stop is 2^31 = 2 147 483 648)
--                  Recommendation: VACUUM (FREEZE, VERBOSE) table; for the database row, the
--                  whole database.
-- cache_hit        The current database (pg_stat_database), tables (heap + TOAST,
--                  pg_statio_all_tables) and indexes (pg_statio_all_indexes) whose buffer hit
--                  ratio hits / (hits + reads) is below 99 %, with at least 10 000 blocks
--                  (80 MB at 8 kB) requested and 1 000 read since the statistics were reset.
--                  warning  < 99 %
--                  critical < 95 %  (< 90 % for the database)
--                  Recommendation: a bigger shared_buffers for the database; for a table mostly
--                  read by sequential scans, an index (optimizer.index_advice); else advice.
-- sequence_exhaustion  Sequences (that you may read: others have no last_value in pg_sequences),
--                  non-cycling, and the columns they feed (identity, serial / OWNED BY, or any
--                  DEFAULT nextval(...)): last_value against the smaller of the sequence's
--                  maximum and the column type's (so an int4 column fed by a bigint sequence is
--                  measured against 2^31 - 1); descending sequences against their minimum.
--                  warning  >= 75 % used
--                  critical >= 90 % used
--                  Recommendation: ALTER TABLE ... ALTER COLUMN ... TYPE bigint (rewrites the table)
--                  and/or ALTER SEQUENCE ... AS bigint / NO MAXVALUE.


-- ---------------------------------------------------------------------------------------------
-- table_bloat

CREATE VIEW @extschema@.table_bloat AS
WITH const AS (
    SELECT pg_catalog.current_setting('block_size')::numeric                 AS bs,
           COALESCE((SELECT ci.max_data_alignment
                       FROM pg_catalog.pg_control_init() ci), 8)::numeric     AS maxalign
), tbl AS (
    SELECT c.oid, n.nspname, c.relname, c.relpages, c.reltuples, c.relnatts,
           COALESCE((SELECT pg_catalog.substring(o, '^fillfactor=(\d+)$')::numeric
                       FROM pg_catalog.unnest(c.reloptions) AS o
                      WHERE o LIKE 'fillfactor=%'), 100)                      AS fillfactor
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN const k
     WHERE c.relkind IN ('r', 'm')
       -- at least 10 MB: a smaller table cannot waste the 10 MB a finding needs, so the 10,000
       -- small tables of a big schema never reach the pg_stats join below
       AND c.relpages::numeric * k.bs >= 10485760
       AND c.reltuples >= 0                     -- -1: never vacuumed or analyzed
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
), cols AS (
    -- one row per column, in order, with the bytes it takes on average and its alignment:
    -- fixed-length types and long varlenas are aligned (typalign), short varlenas (1-byte
    -- header, avg_width < 127) are not
    SELECT t.oid, a.attnum, ps.null_frac, ps.avg_width,
           ((1 - ps.null_frac) * ps.avg_width)::numeric                       AS bytes,
           CASE WHEN a.attlen = -1 AND ps.avg_width < 127 THEN 1
                ELSE CASE a.attalign WHEN 'd' THEN 8 WHEN 'i' THEN 4 WHEN 's' THEN 2 ELSE 1 END
           END::numeric                                                       AS align
      FROM tbl t
      JOIN pg_catalog.pg_attribute a
        ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_stats ps
        ON ps.schemaname = t.nspname AND ps.tablename = t.relname AND ps.attname = a.attname
       AND NOT ps.inherited
), offsets AS (
    SELECT c.*,
           COALESCE(pg_catalog.sum(c.bytes) OVER (PARTITION BY c.oid ORDER BY c.attnum
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                                                                              AS offs
      FROM cols c
), padded AS (
    -- padding before each column, from the unpadded offset of the columns before it (an
    -- approximation: it ignores their own padding), weighted by how often it is not null
    SELECT o.*,
           (1 - COALESCE(o.null_frac, 0))::numeric
           * (pg_catalog.ceil(o.offs / o.align) * o.align - o.offs)           AS pad
      FROM offsets o
), width AS (
    SELECT p.oid,
           pg_catalog.sum(p.bytes + p.pad)                                    AS data_bytes,
           pg_catalog.max(p.null_frac) > 0                                    AS has_nulls
      FROM padded p
     GROUP BY p.oid
    HAVING pg_catalog.count(*) = pg_catalog.count(p.avg_width)               -- statistics for every column
), est AS (
    SELECT t.*, k.bs,
           t.relpages::numeric * k.bs                                         AS table_bytes,
           pg_catalog.ceil(t.reltuples::numeric / GREATEST(1, pg_catalog.floor(
               (k.bs - 24) * t.fillfactor / 100
               / (4 + pg_catalog.ceil((23 + CASE WHEN w.has_nulls THEN pg_catalog.ceil(t.relnatts / 8.0) ELSE 0 END)
                                      / k.maxalign) * k.maxalign
                    + pg_catalog.ceil(w.data_bytes / k.maxalign) * k.maxalign))))
                                                                              AS expected_pages
      FROM tbl t
      JOIN width w ON w.oid = t.oid
     CROSS JOIN const k
), bloat AS (
    SELECT e.*,
           (GREATEST(e.relpages - e.expected_pages, 0) * e.bs)::bigint        AS bloat_bytes,
           GREATEST(e.relpages - e.expected_pages, 0) / e.relpages            AS bloat_ratio,
           COALESCE(s.n_dead_tup, 0)                                          AS dead,
           COALESCE(s.n_live_tup, 0)                                          AS live,
           GREATEST(s.last_vacuum, s.last_autovacuum)                         AS vacuumed_at
      FROM est e
      LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = e.oid
)
SELECT b.oid::regclass                                                        AS table_name,
       b.table_bytes::bigint                                                  AS table_bytes,
       b.bloat_bytes,
       pg_catalog.round(100 * b.bloat_ratio, 1)                               AS bloat_pct,
       CASE WHEN b.bloat_ratio >= 0.5 AND b.bloat_bytes >= 1073741824 THEN 'critical'
            WHEN b.bloat_ratio >= 0.3 THEN 'warning'
            ELSE 'info' END                                                   AS severity,
       pg_catalog.format('%s of %s (%s%%) estimated wasted: %s rows would fit in %s pages, the table has %s; %s dead rows (n_dead_tup); last vacuum: %s',
           pg_catalog.pg_size_pretty(b.bloat_bytes), pg_catalog.pg_size_pretty(b.table_bytes),
           pg_catalog.round(100 * b.bloat_ratio), b.reltuples::bigint, b.expected_pages, b.relpages,
           b.dead,
           COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - b.vacuumed_at)::text || ' ago', 'never'))
                                                                              AS evidence,
       CASE WHEN b.dead >= 0.2 * GREATEST(b.live + b.dead, 1)
            THEN pg_catalog.format('VACUUM (ANALYZE) %s;  -- %s%% of the rows are dead: vacuum first, then check again',
                                   b.oid::regclass,
                                   pg_catalog.round(100.0 * b.dead / GREATEST(b.live + b.dead, 1)))
            ELSE pg_catalog.format('VACUUM (FULL, ANALYZE) %s;  -- rewrites the table under an ACCESS EXCLUSIVE lock; online alternative: pg_repack --table=%s',
                                   b.oid::regclass, b.oid::regclass)
       END                                                                    AS recommendation
  FROM bloat b
 WHERE b.bloat_ratio >= 0.2
   AND b.bloat_bytes >= 10485760
 ORDER BY b.bloat_bytes DESC, b.oid;

COMMENT ON VIEW @extschema@.table_bloat IS
  'Tables whose estimated wasted space (from pg_stats and pg_class: average row width and fillfactor) is at least 20% and 10 MB, with the VACUUM / VACUUM FULL to run.';


-- ---------------------------------------------------------------------------------------------
-- index_bloat: the estimate of reindex_bloated (one function: index_bloat_estimates).

CREATE VIEW @extschema@.index_bloat AS
SELECT b.indexrelid::regclass                                                 AS index_name,
       b.indrelid::regclass                                                   AS table_name,
       b.index_bytes::bigint                                                  AS index_bytes,
       b.bloat_bytes::bigint                                                  AS bloat_bytes,
       pg_catalog.round(100 * b.bloat_ratio, 1)                               AS bloat_pct,
       CASE WHEN b.bloat_ratio >= 0.5 AND b.bloat_bytes >= 1073741824 THEN 'critical'
            ELSE 'warning' END                                                AS severity,
       pg_catalog.format('estimated bloat %s of %s (%s%%): %s entries would fit in %s pages, the index has %s%s',
           pg_catalog.pg_size_pretty(b.bloat_bytes), pg_catalog.pg_size_pretty(b.index_bytes),
           pg_catalog.round(100 * b.bloat_ratio), b.reltuples::bigint, b.expected_pages, b.relpages,
           CASE WHEN b.index_bytes > 10737418240
                THEN '; larger than 10 GB: reindex_bloated() skips it by default (max_index_bytes)'
                ELSE '' END)                                                  AS evidence,
       pg_catalog.format('REINDEX INDEX CONCURRENTLY %s;', b.indexrelid::regclass)
                                                                              AS recommendation
  FROM @extschema@.index_bloat_estimates(10485760) b
 WHERE b.bloat_ratio >= 0.3
   AND b.bloat_bytes >= 10485760
 ORDER BY b.bloat_bytes DESC, b.indexrelid;

COMMENT ON VIEW @extschema@.index_bloat IS
  'Btree indexes whose estimated bloat (the estimate of reindex_bloated, from pg_stats and pg_class) is at least 30% and 10 MB, with the REINDEX INDEX CONCURRENTLY to run.';


-- ---------------------------------------------------------------------------------------------
-- stale_statistics: analyze_stale's change and never-analyzed rules.

CREATE VIEW @extschema@.stale_statistics AS
WITH RECURSIVE t AS (
    SELECT c.oid,
           c.relkind,
           GREATEST(c.reltuples, 0)::bigint                                   AS est_rows,
           COALESCE(s.n_mod_since_analyze, 0)                                 AS changed,
           s.last_analyze,
           s.last_autoanalyze,
           -- no analyze recorded, and nothing in pg_stats (which a statistics reset does not
           -- clear), looked up only for those tables and one by one (OFFSET 0 keeps the
           -- planner from building all of pg_stats)
           CASE WHEN s.last_analyze IS NULL AND s.last_autoanalyze IS NULL
                THEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stats ps
                                  WHERE ps.schemaname = n.nspname AND ps.tablename = c.relname OFFSET 0)
                ELSE false END                                                AS never_analyzed,
           GREATEST(c.reltuples, s.n_live_tup, s.n_mod_since_analyze,
                    CASE WHEN c.relpages > 0 THEN 1 END, 0)::bigint          AS some_rows
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
     WHERE c.relkind IN ('r', 'm', 'p')
       -- tables of extensions (this one's small job list included) are their authors' business
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                        WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid
                          AND e.deptype = 'e')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
), tree(root, relid) AS (
    -- every partitioned table with all its descendants
    SELECT t.oid, t.oid FROM t WHERE t.relkind = 'p'
    UNION ALL
    SELECT tree.root, i.inhrelid
      FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.relid
), due AS (
    SELECT t.*,
           CASE WHEN t.never_analyzed AND t.relkind = 'p' THEN
                     (SELECT pg_catalog.sum(l.some_rows) FROM tree
                        JOIN t l ON l.oid = tree.relid AND l.relkind IN ('r', 'm')
                       WHERE tree.root = t.oid)
                WHEN t.never_analyzed THEN t.some_rows
           END::bigint                                                        AS unanalyzed_rows,
           (t.relkind <> 'p' AND t.changed >= 1000 AND t.changed >= 0.1 * t.est_rows) AS changed_enough
      FROM t
), listed AS (
    SELECT d.* FROM due d WHERE d.unanalyzed_rows > 0 OR d.changed_enough
)
SELECT l.oid::regclass                                                        AS table_name,
       l.est_rows                                                             AS estimated_rows,
       l.changed                                                              AS n_mod_since_analyze,
       l.last_analyze,
       l.last_autoanalyze,
       CASE WHEN l.unanalyzed_rows > 0 OR l.changed >= 0.5 * l.est_rows THEN 'warning'
            ELSE 'info' END                                                   AS severity,
       CASE WHEN l.unanalyzed_rows > 0
            THEN pg_catalog.format('never analyzed (about %s rows)%s', l.unanalyzed_rows,
                                   CASE WHEN l.relkind = 'p'
                                        THEN ' in its partitions; autovacuum never analyzes a partitioned table'
                                        ELSE '' END)
            ELSE pg_catalog.format('%s rows changed since last analyze (%s); last analyze: %s, last autoanalyze: %s',
                                   l.changed,
                                   CASE WHEN l.est_rows > 0
                                        THEN pg_catalog.format('%s%% of %s', pg_catalog.round(100.0 * l.changed / l.est_rows), l.est_rows)
                                        ELSE 'table was estimated empty' END,
                                   COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - l.last_analyze)::text || ' ago', 'never'),
                                   COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - l.last_autoanalyze)::text || ' ago', 'never'))
       END                                                                    AS evidence,
       pg_catalog.format('ANALYZE %s;', l.oid::regclass)                      AS recommendation
  FROM listed l
 -- ANALYZE of a partitioned table analyzes its partitions too
 WHERE NOT EXISTS (SELECT 1 FROM tree JOIN listed p ON p.oid = tree.root
                    WHERE tree.relid = l.oid AND tree.root <> l.oid)
 ORDER BY l.unanalyzed_rows > 0 DESC NULLS LAST,
          l.changed::float8 / GREATEST(l.est_rows, 1) DESC,
          l.oid::regclass::text;

COMMENT ON VIEW @extschema@.stale_statistics IS
  'Tables never analyzed but holding rows, or with at least 1000 rows and 10% changed since their last analyze (the rules of analyze_stale), with the ANALYZE to run.';


-- ---------------------------------------------------------------------------------------------
-- vacuum_health

CREATE VIEW @extschema@.vacuum_health AS
WITH settings AS (
    SELECT pg_catalog.current_setting('autovacuum')::boolean
           AND pg_catalog.current_setting('track_counts')::boolean           AS av_on,
           pg_catalog.current_setting('autovacuum_vacuum_threshold')::numeric AS av_base,
           pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::numeric AS av_scale
), t AS (
    SELECT c.oid,
           GREATEST(c.reltuples, 0)                                           AS reltuples,
           COALESCE(s.n_dead_tup, 0)                                          AS dead,
           COALESCE(s.n_live_tup, 0)                                          AS live,
           s.last_vacuum, s.last_autovacuum,
           GREATEST(s.last_vacuum, s.last_autovacuum)                         AS vacuumed_at,
           r.enabled, r.base, r.scale,
           p.pid IS NOT NULL                                                  AS vacuum_running
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
      LEFT JOIN pg_catalog.pg_stat_progress_vacuum p ON p.relid = c.oid
      CROSS JOIN LATERAL (
          SELECT pg_catalog.max(pg_catalog.substring(o, '^autovacuum_enabled=(.*)$'))::boolean               AS enabled,
                 pg_catalog.max(pg_catalog.substring(o, '^autovacuum_vacuum_threshold=(.*)$'))::numeric     AS base,
                 pg_catalog.max(pg_catalog.substring(o, '^autovacuum_vacuum_scale_factor=(.*)$'))::numeric  AS scale
            FROM pg_catalog.unnest(c.reloptions) AS o) AS r
     WHERE c.relkind IN ('r', 'm')
       AND c.relpersistence <> 't'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
       AND n.nspname NOT LIKE 'pg\_temp\_%'
       AND COALESCE(s.n_dead_tup, 0) >= 1000
), f AS (
    SELECT t.*,
           k.av_on AND COALESCE(t.enabled, true)                              AS av_enabled,
           k.av_on                                                            AS av_global,
           COALESCE(t.base, k.av_base)                                        AS eff_base,
           COALESCE(t.scale, k.av_scale)                                      AS eff_scale,
           COALESCE(t.base, k.av_base) + COALESCE(t.scale, k.av_scale) * t.reltuples AS av_threshold,
           t.dead::float8 / NULLIF(t.live + t.dead, 0)                        AS dead_ratio
      FROM t CROSS JOIN settings k
), c AS (
    SELECT f.*,
           (f.dead >= 0.2 * (f.live + f.dead))                                AS dead_enough,
           (f.dead > f.av_threshold AND NOT f.vacuum_running
            AND (NOT f.av_enabled
                 OR COALESCE(f.last_autovacuum, '-infinity') < pg_catalog.now() - interval '1 hour'))
                                                                              AS behind,
           COALESCE(f.vacuumed_at, '-infinity') < pg_catalog.now() - interval '7 days' AS old
      FROM f
)
SELECT c.oid::regclass                                                        AS table_name,
       c.dead                                                                 AS n_dead_tup,
       c.live                                                                 AS n_live_tup,
       c.av_threshold::bigint                                                 AS autovacuum_threshold,
       c.last_vacuum,
       c.last_autovacuum,
       CASE WHEN c.dead_enough AND c.behind AND NOT c.av_enabled THEN 'critical'
            WHEN c.dead_enough OR c.behind THEN 'warning'
            ELSE 'info' END                                                   AS severity,
       pg_catalog.concat_ws('; ',
           pg_catalog.format('%s dead rows (%s%% of %s)', c.dead,
                             pg_catalog.round((100 * COALESCE(c.dead_ratio, 0))::numeric), c.live + c.dead),
           pg_catalog.format('autovacuum triggers at %s dead rows (%s + %s x %s rows)',
                             c.av_threshold::bigint, c.eff_base, c.eff_scale, c.reltuples::bigint),
           CASE WHEN NOT c.av_global THEN 'autovacuum is off for the server (autovacuum or track_counts)'
                WHEN NOT c.av_enabled THEN 'autovacuum is off for this table (autovacuum_enabled = false)'
                WHEN c.behind THEN 'autovacuum should have run but has not in the last hour' END,
           pg_catalog.format('last vacuum: %s, last autovacuum: %s',
                             COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - c.last_vacuum)::text || ' ago', 'never'),
                             COALESCE(pg_catalog.date_trunc('second', pg_catalog.now() - c.last_autovacuum)::text || ' ago', 'never')))
                                                                              AS evidence,
       pg_catalog.format('VACUUM (ANALYZE) %s;', c.oid::regclass)
       || CASE WHEN NOT c.av_global
               THEN '  -- autovacuum is off for the whole server: ALTER SYSTEM SET autovacuum = on; SELECT pg_catalog.pg_reload_conf();'
               WHEN NOT c.av_enabled
               THEN pg_catalog.format(' ALTER TABLE %s RESET (autovacuum_enabled);', c.oid::regclass)
               WHEN c.behind
               THEN pg_catalog.format(' ALTER TABLE %s SET (autovacuum_vacuum_scale_factor = %s, autovacuum_vacuum_cost_delay = 1);  -- autovacuum sooner and faster on this table; also look for long transactions holding back cleanup',
                                      c.oid::regclass, LEAST(c.eff_scale, 0.05))
               ELSE '' END                                                    AS recommendation
  FROM c
 WHERE c.dead_enough OR c.behind OR c.old
 ORDER BY CASE WHEN c.dead_enough AND c.behind AND NOT c.av_enabled THEN 0
               WHEN c.dead_enough OR c.behind THEN 1 ELSE 2 END,
          c.dead DESC, c.oid;

COMMENT ON VIEW @extschema@.vacuum_health IS
  'Tables with many dead rows, past their own autovacuum threshold without autovacuum running, or not vacuumed for a week, with the VACUUM or autovacuum settings to apply.';


-- ---------------------------------------------------------------------------------------------
-- wraparound_risk

CREATE VIEW @extschema@.wraparound_risk AS
WITH settings AS (
    SELECT pg_catalog.current_setting('autovacuum_freeze_max_age')::bigint            AS xid_max,
           pg_catalog.current_setting('autovacuum_multixact_freeze_max_age')::bigint  AS mxid_max
), objs AS (
    SELECT 'database'::text                                                   AS object_type,
           pg_catalog.quote_ident(d.datname)                                   AS object_name,
           NULL::regclass                                                     AS rel,
           pg_catalog.age(d.datfrozenxid)::bigint                             AS xid_age,
           pg_catalog.mxid_age(d.datminmxid)::bigint                          AS mxid_age,
           k.xid_max, k.mxid_max,
           NULL::text                                                         AS xid_from
      FROM pg_catalog.pg_database d CROSS JOIN settings k
     WHERE d.datname = pg_catalog.current_database()
    UNION ALL
    SELECT 'table', c.oid::regclass::text, c.oid::regclass,
           GREATEST(pg_catalog.age(c.relfrozenxid), pg_catalog.age(tc.relfrozenxid))::bigint,
           pg_catalog.mxid_age(c.relminmxid)::bigint,
           LEAST(k.xid_max, r.xid_max), LEAST(k.mxid_max, r.mxid_max),
           CASE WHEN pg_catalog.age(tc.relfrozenxid) > pg_catalog.age(c.relfrozenxid)
                THEN 'its TOAST table ' || tc.oid::regclass::text END
      FROM pg_catalog.pg_class c
      LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
      CROSS JOIN settings k
      CROSS JOIN LATERAL (
          SELECT pg_catalog.max(pg_catalog.substring(o, '^autovacuum_freeze_max_age=(.*)$'))::bigint           AS xid_max,
                 pg_catalog.max(pg_catalog.substring(o, '^autovacuum_multixact_freeze_max_age=(.*)$'))::bigint AS mxid_max
            FROM pg_catalog.unnest(c.reloptions) AS o) AS r
     WHERE c.relkind IN ('r', 'm')
       AND c.relfrozenxid <> '0'::xid
), graded AS (
    SELECT o.*,
           CASE WHEN GREATEST(o.xid_age, o.mxid_age) >= 1500000000 THEN 'critical'
                WHEN o.xid_age >= o.xid_max OR o.mxid_age >= o.mxid_max THEN 'warning'
                WHEN GREATEST(o.xid_age, o.mxid_age) >= 150000000 THEN 'info'
           END                                                                AS severity
      FROM objs o
)
SELECT g.object_type,
       g.object_name,
       g.xid_age,
       g.mxid_age,
       g.severity,
       pg_catalog.format('transaction ID age %s (%s%% of autovacuum_freeze_max_age %s, %s%% of the 2^31 limit)%s; multixact ID age %s (autovacuum_multixact_freeze_max_age %s)',
           g.xid_age, pg_catalog.round(100.0 * g.xid_age / g.xid_max), g.xid_max,
           pg_catalog.round(100.0 * g.xid_age / 2147483648, 1),
           COALESCE(' from ' || g.xid_from, ''),
           g.mxid_age, g.mxid_max)                                            AS evidence,
       CASE WHEN g.object_type = 'database'
            THEN 'VACUUM (FREEZE, VERBOSE);  -- the whole database; or freeze first the tables listed here, oldest first'
            WHEN g.rel::text LIKE 'pg\_temp\_%' AND NOT EXISTS (
                     SELECT 1 FROM pg_catalog.pg_class c
                      WHERE c.oid = g.rel AND c.relnamespace = pg_catalog.pg_my_temp_schema())
            THEN 'temporary table of another session: only that session can vacuum it; end the session (pg_terminate_backend) to drop it'
            ELSE pg_catalog.format('VACUUM (FREEZE, VERBOSE) %s;', g.rel)
       END                                                                    AS recommendation
  FROM graded g
 WHERE g.severity IS NOT NULL
 ORDER BY GREATEST(g.xid_age, g.mxid_age) DESC, g.object_type, g.object_name;

COMMENT ON VIEW @extschema@.wraparound_risk IS
  'The database and tables whose oldest transaction or multixact ID is old (150 million, autovacuum_freeze_max_age, 1.5 billion of the 2^31 limit), with the VACUUM (FREEZE) to run.';


-- ---------------------------------------------------------------------------------------------
-- cache_hit

CREATE VIEW @extschema@.cache_hit AS
WITH objs AS (
    SELECT 'database'::text                                                   AS object_type,
           pg_catalog.quote_ident(d.datname)                                   AS object_name,
           NULL::oid                                                          AS relid,
           d.blks_hit                                                         AS hits,
           d.blks_read                                                        AS reads,
           NULL::bigint AS seq_scan, NULL::bigint AS idx_scan
      FROM pg_catalog.pg_stat_database d
     WHERE d.datname = pg_catalog.current_database()
    UNION ALL
    SELECT 'table', s.relid::regclass::text, s.relid,
           COALESCE(s.heap_blks_hit, 0) + COALESCE(s.toast_blks_hit, 0),
           COALESCE(s.heap_blks_read, 0) + COALESCE(s.toast_blks_read, 0),
           t.seq_scan, t.idx_scan
      FROM pg_catalog.pg_statio_all_tables s
      LEFT JOIN pg_catalog.pg_stat_all_tables t ON t.relid = s.relid
     WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND s.schemaname NOT LIKE 'pg\_toast\_temp\_%'
       AND s.schemaname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'index', s.indexrelid::regclass::text, s.indexrelid,
           s.idx_blks_hit, s.idx_blks_read, NULL, NULL
      FROM pg_catalog.pg_statio_all_indexes s
     WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND s.schemaname NOT LIKE 'pg\_toast\_temp\_%'
       AND s.schemaname NOT LIKE 'pg\_temp\_%'
), rated AS (
    SELECT o.*, o.hits::numeric / (o.hits + o.reads) AS ratio
      FROM objs o
     WHERE o.hits + o.reads >= 10000
       AND o.reads >= 1000
)
SELECT r.object_type,
       r.object_name,
       r.hits                                                                 AS blks_hit,
       r.reads                                                                AS blks_read,
       pg_catalog.round(100 * r.ratio, 2)                                     AS hit_pct,
       CASE WHEN r.ratio < CASE WHEN r.object_type = 'database' THEN 0.90 ELSE 0.95 END THEN 'critical'
            ELSE 'warning' END                                                AS severity,
       pg_catalog.format('%s%% of %s block requests found in shared buffers (%s hits, %s reads from disk or OS cache, %s)%s; shared_buffers = %s',
           pg_catalog.round(100 * r.ratio, 2), r.hits + r.reads, r.hits, r.reads,
           pg_catalog.pg_size_pretty(r.reads * pg_catalog.current_setting('block_size')::bigint),
           CASE WHEN r.object_type = 'table'
                THEN pg_catalog.format('; %s sequential and %s index scans', r.seq_scan, COALESCE(r.idx_scan, 0))
                ELSE '' END,
           pg_catalog.current_setting('shared_buffers'))                      AS evidence,
       CASE WHEN r.object_type = 'database'
            THEN pg_catalog.format('ALTER SYSTEM SET shared_buffers = %L;  -- twice the current size, then restart the server; about 25%% of RAM is the usual ceiling; look at the tables and indexes listed here first',
                                   pg_catalog.pg_size_pretty(2 * pg_catalog.pg_size_bytes(pg_catalog.current_setting('shared_buffers'))))
            WHEN r.object_type = 'table' AND r.seq_scan > COALESCE(r.idx_scan, 0)
            THEN pg_catalog.format('SELECT * FROM @extschema@.index_advice();  -- %s is read mostly by sequential scans: an index may avoid reading all of it; else a bigger shared_buffers',
                                   r.object_name)
            WHEN r.object_type = 'table'
            THEN 'working set larger than the cache: a bigger shared_buffers, or fewer / narrower rows read per query (see optimizer.statements by shared_blks_read)'
            ELSE 'index larger than the cache can hold: check it is used (pg_stat_all_indexes.idx_scan) and not bloated (optimizer.index_bloat), else a bigger shared_buffers'
       END                                                                    AS recommendation
  FROM rated r
 WHERE r.ratio < 0.99
 ORDER BY r.reads DESC, r.object_type, r.object_name;

COMMENT ON VIEW @extschema@.cache_hit IS
  'The database, tables and indexes whose shared buffer hit ratio is below 99% (with at least 10000 block requests and 1000 reads), with what to change.';


-- ---------------------------------------------------------------------------------------------
-- sequence_exhaustion

-- A sequence's last value (NULL before its first nextval, or without the privilege to read it),
-- read from the sequence itself under AccessShareLock (pg_sequences' pg_sequence_last_value()
-- would take RowExclusiveLock).
CREATE FUNCTION @extschema@.insights_sequence_last_value(seq regclass)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    IF NOT pg_catalog.has_sequence_privilege(seq, 'SELECT') THEN
        RETURN NULL;
    END IF;
    EXECUTE pg_catalog.format('SELECT CASE WHEN is_called THEN last_value END FROM %s', seq) INTO v;
    RETURN v;
END
$fn$;

CREATE VIEW @extschema@.sequence_exhaustion AS
WITH fed AS (
    -- columns fed by a sequence: identity and OWNED BY (serial) ...
    SELECT d.objid AS seqid, d.refobjid AS tableid, d.refobjsubid::smallint AS attnum
      FROM pg_catalog.pg_depend d
     WHERE d.classid = 'pg_catalog.pg_class'::regclass
       AND d.refclassid = 'pg_catalog.pg_class'::regclass
       AND d.deptype IN ('a', 'i')
       AND d.refobjsubid > 0
    UNION
    -- ... and any DEFAULT nextval('...')
    SELECT d.refobjid, ad.adrelid, ad.adnum
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
     WHERE d.classid = 'pg_catalog.pg_attrdef'::regclass
       AND d.refclassid = 'pg_catalog.pg_class'::regclass
), seqs AS (
    SELECT x.* FROM (
        SELECT c.oid AS seqid, s.seqtypid::regtype AS seq_type,
               @extschema@.insights_sequence_last_value(c.oid) AS last_value,
               s.seqmin AS min_value, s.seqmax AS max_value, s.seqincrement AS increment_by
          FROM pg_catalog.pg_sequence s
          JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT s.seqcycle
           AND n.nspname NOT LIKE 'pg\_temp\_%') x
     WHERE x.last_value IS NOT NULL
), uses AS (
    SELECT q.*, f.tableid, a.attname, a.atttypid,
           CASE a.atttypid WHEN 'pg_catalog.int2'::regtype THEN 32767
                           WHEN 'pg_catalog.int4'::regtype THEN 2147483647 END::numeric   AS col_max,
           CASE a.atttypid WHEN 'pg_catalog.int2'::regtype THEN -32768
                           WHEN 'pg_catalog.int4'::regtype THEN -2147483648 END::numeric  AS col_min
      FROM seqs q
      LEFT JOIN fed f ON f.seqid = q.seqid
      LEFT JOIN pg_catalog.pg_attribute a
        ON a.attrelid = f.tableid AND a.attnum = f.attnum AND NOT a.attisdropped
), measured AS (
    SELECT u.*,
           CASE WHEN u.increment_by > 0 THEN LEAST(u.max_value, COALESCE(u.col_max, u.max_value))
                ELSE GREATEST(u.min_value, COALESCE(u.col_min, u.min_value)) END        AS limit_value,
           CASE WHEN u.increment_by > 0
                THEN u.col_max IS NOT NULL AND u.col_max < u.max_value
                ELSE u.col_min IS NOT NULL AND u.col_min > u.min_value END              AS column_limits,
           -- the column type's limit comes first (or together with the sequence's)
           CASE WHEN u.increment_by > 0
                THEN u.col_max IS NOT NULL AND u.col_max <= u.max_value
                ELSE u.col_min IS NOT NULL AND u.col_min >= u.min_value END             AS column_binds
      FROM uses u
), used AS (
    SELECT m.*,
           CASE WHEN m.increment_by > 0
                THEN CASE WHEN m.limit_value > 0 AND m.last_value > 0 THEN m.last_value / m.limit_value END
                ELSE CASE WHEN m.limit_value < 0 AND m.last_value < 0 THEN m.last_value / m.limit_value END
           END                                                                AS used_ratio
      FROM measured m
)
SELECT u.seqid::regclass                                                      AS sequence_name,
       u.tableid::regclass                                                    AS table_name,
       u.attname                                                              AS column_name,
       COALESCE(u.atttypid, u.seq_type)::regtype                              AS data_type,
       u.last_value,
       u.limit_value::bigint                                                  AS limit_value,
       pg_catalog.round(100 * u.used_ratio, 2)                                AS used_pct,
       CASE WHEN u.used_ratio >= 0.9 THEN 'critical' ELSE 'warning' END       AS severity,
       pg_catalog.format('%s is at %s of %s (%s%% used, %s values left)%s',
           u.seqid::regclass, u.last_value, u.limit_value, pg_catalog.round(100 * u.used_ratio, 2),
           pg_catalog.abs(u.limit_value - u.last_value),
           CASE WHEN u.column_limits
                THEN pg_catalog.format('; the limit is the %s column %s.%I (sequence is %s, max %s)',
                                       u.atttypid::regtype, u.tableid::regclass, u.attname, u.seq_type,
                                       CASE WHEN u.increment_by > 0 THEN u.max_value ELSE u.min_value END)
                WHEN u.attname IS NOT NULL
                THEN pg_catalog.format('; feeds %s.%I (%s)', u.tableid::regclass, u.attname, u.atttypid::regtype)
                ELSE '' END)                                                  AS evidence,
       pg_catalog.concat_ws(' ',
           CASE WHEN u.column_binds
                THEN pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE bigint;', u.tableid::regclass, u.attname) END,
           CASE WHEN u.column_limits THEN NULL       -- the sequence has room beyond the column
                WHEN u.seq_type <> 'pg_catalog.int8'::regtype
                THEN pg_catalog.format('ALTER SEQUENCE %s AS bigint;', u.seqid::regclass)
                WHEN u.increment_by > 0 AND u.max_value < 9223372036854775807
                THEN pg_catalog.format('ALTER SEQUENCE %s NO MAXVALUE;', u.seqid::regclass)
                WHEN u.increment_by < 0 AND u.min_value > -9223372036854775808
                THEN pg_catalog.format('ALTER SEQUENCE %s NO MINVALUE;', u.seqid::regclass) END,
           CASE WHEN u.column_binds
                THEN ' -- ALTER COLUMN ... TYPE rewrites the table and its indexes under an ACCESS EXCLUSIVE lock; plan it (or migrate to a new bigint column) before it runs out' END)
                                                                              AS recommendation
  FROM used u
 WHERE u.used_ratio >= 0.75
 ORDER BY u.used_ratio DESC, u.seqid, u.tableid, u.attname;

COMMENT ON VIEW @extschema@.sequence_exhaustion IS
  'Sequences, and the integer columns they feed, that used at least 75% of their range (of the column type when smaller), with the ALTER to run.';


GRANT SELECT ON @extschema@.table_bloat, @extschema@.index_bloat, @extschema@.stale_statistics,
                @extschema@.vacuum_health, @extschema@.wraparound_risk, @extschema@.cache_hit,
                @extschema@.sequence_exhaustion TO PUBLIC;
