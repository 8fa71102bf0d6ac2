-- create_index: build an index without blocking writes, on a plain table or on a partitioned one
-- (any depth), and leave nothing INVALID behind when the build fails. The index advisor's DDL for
-- partitioned tables and automatic indexing use it; a DBA can call it by hand:
--
--     SELECT * FROM optimizer.create_index('sales.orders', ARRAY['customer_id', 'created_at']);
--     SELECT * FROM optimizer.create_index('"Weird Table"', ARRAY['Col A', '(lower("Col B"))'],
--                                          include => ARRAY['id'], predicate => '"Col A" > 0');
--
-- What runs, all of it in ONE background worker (@extschema@.run_in_worker_as, as the table's
-- owner, whose privileges the caller holds (never as the caller: a superuser's call, or
-- auto-indexing's, runs the owner's index expressions with the owner's rights),
-- every statement on its own at the top level, each command under lock_timeout and
-- statement_timeout; label 'create_index'):
--
--   plain table (or matview, or a single partition):
--       CREATE [UNIQUE] INDEX CONCURRENTLY name ON tbl USING method (...) [INCLUDE (...)] [WHERE (...)]
--
--   partitioned table:
--       BEGIN;  CREATE INDEX name ON ONLY parent ...               (INVALID until complete)
--               CREATE INDEX midname ON ONLY mid ...                (each partitioned child)
--               ALTER INDEX name ATTACH PARTITION midname; ...
--       COMMIT;
--       then for every leaf partition, one after the other:
--               CREATE INDEX CONCURRENTLY leafname ON leaf ...;
--               ALTER INDEX <its parent's index> ATTACH PARTITION leafname
--       and, when a leaf already has an equivalent valid index (plain key columns, no predicate,
--       default operator classes, collations and order, not backing a constraint, not attached
--       elsewhere), that index is attached instead of building another one, at the very end,
--       all in one transaction:  BEGIN; ALTER INDEX ... ATTACH PARTITION existing; ... COMMIT
--   After the last attach PostgreSQL marks the parent index valid by itself. Partitions created
--   or attached later get the index from PostgreSQL (CREATE TABLE ... PARTITION OF, ATTACH
--   PARTITION), from the moment the ON ONLY index exists.
--
-- Why the caller does not wait: CREATE INDEX CONCURRENTLY waits for every transaction whose
-- snapshot is older than its own to end, the caller's included. A function waiting for its worker
-- holds such a snapshot for as long as it waits, so the build would wait for the caller and the
-- caller for the build, until lock_timeout breaks the tie and the build fails (leaving an INVALID
-- index). So create_index hands the commands over (run_in_worker(..., wait => false)) and returns
-- at once: one row per index, status 'started', and a last summary row; run_id says where the
-- outcome is recorded:
--
--     SELECT status, message FROM optimizer.job_runs WHERE run_id = <run_id>;
--       succeeded  the index exists and is valid (pg_index.indisvalid, checked by the last step)
--       failed     it was not created; the message lists the steps that failed and their errors,
--                  and ends with what was removed (or, if something could not be removed, what
--                  to drop by hand)
--
-- Call it on its own (autocommit): the builds wait for the calling transaction to end (at most
-- lock_timeout), and cannot see what it has not committed. lock_timeout also bounds the waits of
-- CREATE INDEX CONCURRENTLY for older transactions (PostgreSQL waits for them as for locks): a
-- transaction older than the build that runs longer than lock_timeout makes it fail, cleanly.
--
-- Failure and clean-up. The commands are guarded so that the first failure stops the rest: each
-- build starts with `SELECT @extschema@.create_index_step('claim', ...)`, which checks that the
-- step before it left a valid, attached index and that the names it is about to use are free, and
-- remembers them (in a setting of the worker's session) as made by this run; a failed claim fails
-- the command, so its CREATE INDEX never runs. At the end, whatever happened:
--   'settle'  (a function, so it cannot drop concurrently) renames each unattached leaf index of
--             this run that is not part of a valid result (the INVALID one a failed concurrent
--             build leaves, or a valid one whose attach failed) to create_index_failed_<run>, and,
--             when the index is not complete, drops the ON ONLY indexes of this run with a plain
--             DROP INDEX (that also drops the leaf indexes already attached to them; PostgreSQL
--             locks every partition for a moment to drop a partitioned index);
--   SET lock_timeout = 0; DROP INDEX CONCURRENTLY IF EXISTS <schema>.create_index_failed_<run>
--             (per schema; a no-op when nothing failed; its waits block no reads or writes, so it
--             waits up to statement_timeout rather than give up and leave the INVALID index);
--   'finish'  checks that the index is valid and that nothing of this run is left INVALID; when
--             not, it fails with the details, so the run ends 'failed'.
-- Only indexes this run made are ever dropped: names are claimed only while free, and an
-- existing index attached by the reuse step is never dropped (the parent index is then left
-- INVALID and 'finish' says so).


-- ---------------------------------------------------------------------------------------------
-- create_index_step: the guard, clean-up and check steps of a create_index run. Called only by
-- the commands create_index hands to its worker, in that worker's session; by hand it does
-- nothing useful (it only acts on indexes claimed in the same session).
--
--   create_index_step('claim',  run, after, names)   after: the index the previous step should have
--                                                    left (NULL for the first step); names: the
--                                                    indexes this step creates ('"schema"."name"')
--   create_index_step('settle', run, top, reused)    reused: existing leaf indexes the run attaches
--   create_index_step('finish', run, top)

CREATE FUNCTION @extschema@.create_index_step(step text, run text, index text DEFAULT NULL, names text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    setting   text;
    claimed   text[];
    doomed    text;
    top       oid;
    ok        boolean;
    r         record;
    n         text;
    done      text[] := '{}';
    leftovers text[] := '{}';
    drops     text[] := '{}';
BEGIN
    IF run IS NULL OR run !~ '^[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'create_index_step: not a create_index run: %', COALESCE(run, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    setting := 'optimizer_create_index.run_' || run;
    doomed  := 'create_index_failed_' || run;
    claimed := COALESCE(NULLIF(pg_catalog.current_setting(setting, true), '')::text[], '{}');

    IF step = 'claim' THEN
        IF index IS NOT NULL THEN
            -- The previous step must have left its index: valid and attached for a leaf index,
            -- present for the ON ONLY ones (they become valid only at the end).
            SELECT c.relkind, c.relispartition, x.indisvalid, x.indisready INTO r
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
             WHERE c.oid = pg_catalog.to_regclass(index);
            IF NOT FOUND OR NOT (index = ANY (claimed))
               OR (r.relkind = 'i' AND NOT (r.indisvalid AND r.indisready AND r.relispartition)) THEN
                RAISE EXCEPTION 'skipped: an earlier step of this create_index run did not succeed'
                      USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
        END IF;
        FOREACH n IN ARRAY COALESCE(names, '{}') LOOP
            IF pg_catalog.to_regclass(n) IS NOT NULL THEN
                RAISE EXCEPTION 'not run: % exists already (it was created after create_index chose the name)', n
                      USING ERRCODE = 'duplicate_table';
            END IF;
        END LOOP;
        PERFORM pg_catalog.set_config(setting, (claimed || COALESCE(names, '{}'))::text, false);
        RETURN pg_catalog.format('claimed %s', COALESCE(pg_catalog.array_to_string(names, ', '), ''));
    END IF;

    IF step NOT IN ('settle', 'finish') THEN
        RAISE EXCEPTION 'create_index_step: unknown step %', COALESCE(step, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Is the result there: the index of this run, valid (a partitioned index is valid once
    -- every partition has a valid index attached)?
    top := pg_catalog.to_regclass(index);
    SELECT COALESCE(index = ANY (claimed) AND x.indisvalid AND x.indisready, false) INTO ok
      FROM pg_catalog.pg_index x WHERE x.indexrelid = top;
    ok := COALESCE(ok, false);

    IF step = 'settle' THEN
        -- Leaf indexes of this run that are not attached anywhere and not part of a valid result:
        -- renamed for the DROP INDEX CONCURRENTLY commands that follow (a function cannot drop
        -- concurrently). Attached ones go with their partitioned index below.
        FOR r IN
            SELECT u.name, c.oid, c.relnamespace, x.indisvalid
              FROM pg_catalog.unnest(claimed) AS u(name)
              JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(u.name)
              JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
             WHERE c.relkind = 'i' AND NOT c.relispartition
               AND (NOT ok OR NOT x.indisvalid)
        LOOP
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_catalog.pg_class d
                            WHERE d.relnamespace = r.relnamespace AND d.relname = doomed) THEN
                    -- a second one in the same schema (cannot happen with one failure per run)
                    EXECUTE pg_catalog.format('DROP INDEX %s', r.name);
                    done := done || pg_catalog.format('dropped %s', r.name);
                ELSE
                    EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', r.name, doomed);
                    done := done || pg_catalog.format('%s renamed to %I to be dropped concurrently', r.name, doomed);
                END IF;
            EXCEPTION WHEN OTHERS THEN
                done := done || pg_catalog.format('could not remove %s: %s', r.name, SQLERRM);
            END;
        END LOOP;

        IF NOT ok THEN
            -- The ON ONLY indexes of this run that hang under no other: DROP INDEX, which also
            -- drops what is attached to them. Not when an existing index the run attached is
            -- among those (dropping it would drop the user's index).
            FOR r IN
                SELECT u.name, c.oid
                  FROM pg_catalog.unnest(claimed) AS u(name)
                  JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(u.name)
                 WHERE c.relkind = 'I' AND NOT c.relispartition
            LOOP
                IF EXISTS (WITH RECURSIVE below(relid) AS (
                               SELECT r.oid
                               UNION ALL
                               SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN below b ON i.inhparent = b.relid)
                           SELECT 1 FROM below b
                            WHERE b.relid IN (SELECT pg_catalog.to_regclass(e)
                                                FROM pg_catalog.unnest(COALESCE(names, '{}')) AS e)) THEN
                    done := done || pg_catalog.format('kept %s: an existing index is attached to it', r.name);
                    CONTINUE;
                END IF;
                FOR attempt IN 1..3 LOOP
                    BEGIN
                        EXECUTE pg_catalog.format('DROP INDEX %s', r.name);
                        done := done || pg_catalog.format('dropped %s', r.name);
                        EXIT;
                    EXCEPTION WHEN lock_not_available THEN
                        -- lock_timeout: wait a moment and try again, three times in all
                        IF attempt = 3 THEN
                            done := done || pg_catalog.format('could not drop %s: %s', r.name, SQLERRM);
                            EXIT;
                        END IF;
                        PERFORM pg_catalog.pg_sleep(attempt);
                    END;
                END LOOP;
            END LOOP;
        END IF;
        RETURN CASE WHEN ok THEN pg_catalog.format('%s is valid', index) ELSE pg_catalog.format('%s was not created', index) END
               || COALESCE('; ' || NULLIF(pg_catalog.array_to_string(done, '; '), ''), '');
    END IF;

    -- finish: what of this run is still there and should not be.
    FOR r IN
        SELECT u.name, c.relkind, x.indisvalid
          FROM pg_catalog.unnest(claimed) AS u(name)
          JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(u.name)
          JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
         WHERE NOT ok OR NOT x.indisvalid
        UNION ALL
        SELECT pg_catalog.format('%I.%I', s.nspname, c.relname), c.relkind, x.indisvalid
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
          JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
         WHERE c.relname = doomed
    LOOP
        leftovers := leftovers || (r.name || CASE WHEN r.indisvalid THEN '' ELSE ' (INVALID)' END);
        drops := drops || CASE WHEN r.relkind = 'I' THEN pg_catalog.format('DROP INDEX %s;', r.name)
                               ELSE pg_catalog.format('DROP INDEX CONCURRENTLY %s;', r.name) END;
    END LOOP;

    IF ok AND pg_catalog.cardinality(leftovers) = 0 THEN
        RETURN pg_catalog.format('%s is valid', index);
    ELSIF ok THEN
        RAISE EXCEPTION 'index % was created, but could not remove: %', index, pg_catalog.array_to_string(leftovers, ', ')
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'Drop them: ' || pg_catalog.array_to_string(drops, ' ');
    ELSIF pg_catalog.cardinality(leftovers) = 0 THEN
        RAISE EXCEPTION 'index % was not created; nothing this run built is left', index
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'The failed steps above say why.';
    ELSE
        RAISE EXCEPTION 'index % was not created, and could not remove: %', index, pg_catalog.array_to_string(leftovers, ', ')
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'Drop them (the failed steps above say why): ' || pg_catalog.array_to_string(drops, ' ');
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.create_index_step(text, text, text, text[]) IS
  'Internal: the guard (claim), clean-up (settle) and check (finish) steps of a create_index() run, called by the commands it hands to its background worker.';


-- ---------------------------------------------------------------------------------------------
-- create_index_start: the body of create_index() (PL/pgSQL cannot give a parameter the name of a
-- result column, and create_index has both an index_name parameter and an index_name column).
-- Plans everything, checks everything it can before anything starts, then hands the commands to
-- one background worker and returns.

CREATE FUNCTION @extschema@.create_index_start(
    target            regclass,
    key_columns       text[],
    method            text,
    include_columns   text[],
    predicate         text,
    wanted_name       text,
    is_unique         boolean,
    lock_timeout      interval,
    statement_timeout interval)
RETURNS TABLE (index_name text, on_table text, status text, message text, duration_ms float8, run_id bigint)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t0          timestamptz := pg_catalog.clock_timestamp();
    run         text := pg_catalog.substr(pg_catalog.md5(pg_catalog.random()::text || pg_catalog.clock_timestamp()::text
                                                         || pg_catalog.pg_backend_pid()::text), 1, 12);
    doomed      text;
    root        record;
    am_oid      oid;
    incl        text[] := COALESCE(include_columns, '{}');
    col         text;
    frag        text;
    verbatim    text[] := '{}';
    plain_keys  boolean := true;
    key_sql     text[] := '{}';
    key_names   text[] := '{}';
    spec        text;          -- ' USING am (keys) [INCLUDE (...)] [WHERE (...)]'
    uniq        text := CASE WHEN is_unique THEN 'UNIQUE ' ELSE '' END;
    s           text;
    depth       int;
    ch          text;
    path        text;
    node        record;
    base        text;
    nm          text;
    suffix      text;
    planned     text[] := '{}';   -- '"schema"."name"' of every index this run creates
    -- the plan, one entry per partitioned table / leaf, in order
    p_rel       oid[]  := '{}';
    p_kind      text[] := '{}';   -- 'plain' | 'parent' | 'mid' | 'leaf' | 'reuse'
    p_index     text[] := '{}';   -- qualified index name
    p_table     text[] := '{}';   -- qualified table name
    p_ddl       text[] := '{}';
    reused      text[] := '{}';
    schemas     text[] := '{}';   -- schemas of the leaf indexes (for the concurrent drops)
    existing    text;
    k           int;
    after       text;
    first_cmd   text;
    cmds        text[] := '{}';
    top         text;
    w_run       bigint;
    nbuild      int := 0;
BEGIN
    -- ---- arguments ------------------------------------------------------------------------
    IF target IS NULL OR key_columns IS NULL OR method IS NULL OR is_unique IS NULL
       OR lock_timeout IS NULL OR statement_timeout IS NULL THEN
        RAISE EXCEPTION 'create_index: target, columns, method, is_unique and the timeouts must not be NULL'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lock_timeout < interval '0' OR statement_timeout < interval '0' THEN
        RAISE EXCEPTION 'create_index: timeouts must not be negative'
              USING ERRCODE = 'invalid_parameter_value', HINT = '0 means no timeout.';
    END IF;

    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.relowner, c.relnamespace, n.nspname,
           pg_catalog.format('%I.%I', n.nspname, c.relname) AS qname
      INTO root
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'create_index: relation with OID % does not exist', target::oid
              USING ERRCODE = 'undefined_table';
    END IF;
    IF root.relkind NOT IN ('r', 'p', 'm') THEN
        RAISE EXCEPTION 'create_index: % is not a table or materialized view', target
              USING ERRCODE = 'wrong_object_type';
    END IF;
    IF root.nspname IN ('pg_catalog', 'pg_toast', 'information_schema') THEN
        RAISE EXCEPTION 'create_index: % is a system table', target
              USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF root.relpersistence = 't' THEN
        RAISE EXCEPTION 'create_index: % is a temporary table', target
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'The build runs in a background worker, which cannot see temporary tables: use CREATE INDEX.';
    END IF;

    SELECT a.oid INTO am_oid FROM pg_catalog.pg_am a WHERE a.amname = method AND a.amtype = 'i';
    IF am_oid IS NULL THEN
        RAISE EXCEPTION 'create_index: index access method "%" does not exist', method
              USING ERRCODE = 'undefined_object',
                    HINT = 'One of: ' || (SELECT pg_catalog.string_agg(a.amname::text, ', ' ORDER BY a.amname)
                                            FROM pg_catalog.pg_am a WHERE a.amtype = 'i') || '.';
    END IF;
    IF is_unique AND NOT pg_catalog.pg_indexam_has_property(am_oid, 'can_unique') THEN
        RAISE EXCEPTION 'create_index: access method "%" does not support unique indexes', method
              USING ERRCODE = 'feature_not_supported';
    END IF;
    IF pg_catalog.cardinality(incl) > 0 AND NOT pg_catalog.pg_indexam_has_property(am_oid, 'can_include') THEN
        RAISE EXCEPTION 'create_index: access method "%" does not support included columns', method
              USING ERRCODE = 'feature_not_supported';
    END IF;
    IF pg_catalog.cardinality(key_columns) = 0 THEN
        RAISE EXCEPTION 'create_index: columns must name at least one column or expression'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.cardinality(key_columns) > 1 AND NOT pg_catalog.pg_indexam_has_property(am_oid, 'can_multi_col') THEN
        RAISE EXCEPTION 'create_index: access method "%" does not support multicolumn indexes', method
              USING ERRCODE = 'feature_not_supported';
    END IF;

    -- Key columns: a column name (quoted here), or '(' expression ')' [opclass] [ASC|DESC] ...
    -- used as written. Included columns: names.
    FOREACH col IN ARRAY key_columns LOOP
        IF col IS NULL OR col = '' THEN
            RAISE EXCEPTION 'create_index: columns must not contain NULL or empty names'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF pg_catalog.left(pg_catalog.ltrim(col), 1) = '(' THEN
            plain_keys := false;
            verbatim   := verbatim || col;
            key_sql    := key_sql || pg_catalog.btrim(col);
            key_names  := key_names || 'expr'::text;
        ELSE
            key_sql   := key_sql || pg_catalog.quote_ident(col);
            key_names := key_names || col;
        END IF;
    END LOOP;
    FOREACH col IN ARRAY key_columns || incl LOOP
        IF col IS NULL OR col = '' THEN
            RAISE EXCEPTION 'create_index: include must not contain NULL or empty names'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        CONTINUE WHEN pg_catalog.left(pg_catalog.ltrim(col), 1) = '(';
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = target AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'create_index: column "%" of % does not exist', col, target
                  USING ERRCODE = 'undefined_column',
                        HINT = 'Give column names as they are (no quotes): ''Col A'', not ''"Col A"''; an expression starts with ''(''.';
        END IF;
    END LOOP;
    IF predicate IS NOT NULL THEN
        IF pg_catalog.btrim(predicate) = '' THEN
            RAISE EXCEPTION 'create_index: predicate must not be empty' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        verbatim := verbatim || predicate;
        plain_keys := false;   -- no reuse of existing indexes for partial indexes
    END IF;

    -- Expressions and the predicate go into the commands as written. They must stay inside
    -- their parentheses: outside quoted literals and quoted names, no ';', no comment, no
    -- dollar quote, and balanced parentheses.
    FOREACH frag IN ARRAY verbatim LOOP
        s := pg_catalog.regexp_replace(frag, $re$[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|"(?:[^"]|"")*"$re$, ' ', 'g');
        IF s ~ '[;''"$]' OR pg_catalog.strpos(s, '--') > 0 OR pg_catalog.strpos(s, '/*') > 0 THEN
            RAISE EXCEPTION 'create_index: expression or predicate not accepted: %', frag
                  USING ERRCODE = 'syntax_error',
                        HINT = 'Write one SQL expression: no ";", comments or dollar quotes, quotes closed.';
        END IF;
        depth := 0;
        FOREACH ch IN ARRAY pg_catalog.regexp_split_to_array(s, '') LOOP
            depth := depth + CASE ch WHEN '(' THEN 1 WHEN ')' THEN -1 ELSE 0 END;
            EXIT WHEN depth < 0;
        END LOOP;
        IF depth <> 0 THEN
            RAISE EXCEPTION 'create_index: unbalanced parentheses in %', frag
                  USING ERRCODE = 'syntax_error';
        END IF;
    END LOOP;

    spec := pg_catalog.format(' USING %I (%s)', method, pg_catalog.array_to_string(key_sql, ', '));
    IF pg_catalog.cardinality(incl) > 0 THEN
        spec := spec || pg_catalog.format(' INCLUDE (%s)',
                    (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(i), ', ' ORDER BY o)
                       FROM pg_catalog.unnest(incl) WITH ORDINALITY AS u(i, o)));
    END IF;
    IF predicate IS NOT NULL THEN
        spec := spec || pg_catalog.format(' WHERE (%s)', pg_catalog.btrim(predicate));
    END IF;

    IF wanted_name IS NOT NULL AND (wanted_name = '' OR pg_catalog.octet_length(wanted_name) > 63) THEN
        RAISE EXCEPTION 'create_index: index_name must have 1 to 63 bytes'
              USING ERRCODE = 'invalid_name';
    END IF;
    IF wanted_name IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                            WHERE c.relnamespace = root.relnamespace AND c.relname = wanted_name) THEN
        RAISE EXCEPTION 'create_index: relation "%" already exists in schema "%"', wanted_name, root.nspname
              USING ERRCODE = 'duplicate_table',
                    HINT = 'Choose another index_name, or leave it out for a generated one.';
    END IF;

    -- ---- the tables: the target and, for a partitioned one, its whole partition tree --------
    -- (from pg_inherits: no lock is taken on any of them here)
    FOR node IN
        WITH RECURSIVE tree(relid, parent, level, path) AS (
            SELECT target::oid, NULL::oid, 0, ARRAY[]::text[] COLLATE "C"
            UNION ALL
            SELECT i.inhrelid, i.inhparent, t.level + 1, t.path || (c.relname::text COLLATE "C")
              FROM tree t
              JOIN pg_catalog.pg_inherits i ON i.inhparent = t.relid
              JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
             WHERE root.relkind = 'p'
        )
        SELECT t.relid, t.parent, t.level, c.relname, c.relkind, c.relowner, c.relnamespace, n.nspname,
               pg_catalog.format('%I.%I', n.nspname, c.relname) AS qname
          FROM tree t
          JOIN pg_catalog.pg_class c ON c.oid = t.relid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         ORDER BY t.level > 0, c.relkind <> 'p', t.level, t.path
    LOOP
        -- The caller must own every table (membership in the owning role counts).
        IF NOT pg_catalog.pg_has_role(CURRENT_USER, node.relowner, 'USAGE') THEN
            RAISE EXCEPTION 'permission denied to create an index on %', node.relid::regclass
                  USING ERRCODE = 'insufficient_privilege',
                        HINT = CASE WHEN node.level = 0
                                    THEN pg_catalog.format('Only the owner of %s (role %s), a member of that role, or a superuser may index it; run it as that role (SET ROLE %s).',
                                                           node.relid::regclass, node.relowner::regrole, node.relowner::regrole)
                                    ELSE pg_catalog.format('Partition %s of %s is owned by role %s: every partition must be owned by you (or a role you are a member of).',
                                                           node.relid::regclass, target, node.relowner::regrole)
                               END;
        END IF;
        IF node.relkind NOT IN ('r', 'p', 'm') THEN
            RAISE EXCEPTION 'create_index: partition % of % is a foreign table', node.relid::regclass, target
                  USING ERRCODE = 'wrong_object_type',
                        HINT = 'Foreign partitions cannot have indexes: a concurrent build per partition is not possible here; use CREATE INDEX on the parent (it skips them, for a non-unique index).';
        END IF;

        -- A unique index on a partitioned table must contain every partition key column, at
        -- every level, as a plain key column (PostgreSQL's rule, checked here rather than later).
        IF is_unique AND node.relkind = 'p' THEN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_partitioned_table pt
                        WHERE pt.partrelid = node.relid
                          AND (pt.partexprs IS NOT NULL
                               OR EXISTS (SELECT 1
                                            FROM pg_catalog.unnest(pt.partattrs::int2[]) AS k(attnum)
                                            JOIN pg_catalog.pg_attribute a ON a.attrelid = node.relid AND a.attnum = k.attnum
                                           WHERE NOT (a.attname::text = ANY (key_columns))))) THEN
                RAISE EXCEPTION 'create_index: a unique index on % must contain its partition key columns', node.relid::regclass
                      USING ERRCODE = 'feature_not_supported',
                            DETAIL = pg_catalog.format('%s is partitioned by %s.', node.relid::regclass,
                                                       pg_catalog.pg_get_partkeydef(node.relid)),
                            HINT = 'Add every partition key column (of the table and of its partitioned partitions) to columns; a key with an expression cannot be in a unique index.';
            END IF;
        END IF;

        -- A name: the one given (for the target), else <table>_<columns>_idx within 63 bytes,
        -- then _idx1, _idx2, ... until one is free in the schema and in this run.
        nm := NULL;
        IF node.level = 0 AND wanted_name IS NOT NULL THEN
            nm := wanted_name;
        ELSE
            base := node.relname || '_' || pg_catalog.array_to_string(key_names, '_');
            FOR i IN 0..9999 LOOP
                suffix := CASE WHEN i = 0 THEN '_idx' ELSE '_idx' || i END;
                s := base;
                WHILE pg_catalog.octet_length(s || suffix) > 63 LOOP
                    s := pg_catalog.left(s, -1);
                END LOOP;
                s := s || suffix;
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = node.relnamespace AND c.relname = s)
                   AND NOT (pg_catalog.format('%I.%I', node.nspname, s) = ANY (planned))
                   AND s <> 'create_index_failed_' || run THEN
                    nm := s;
                    EXIT;
                END IF;
            END LOOP;
        END IF;

        -- A leaf with an equivalent valid index of its own: attach that one. Only for plain key
        -- columns without a predicate, and only what PostgreSQL's ATTACH accepts for certain:
        -- same access method, uniqueness, columns (by name) and INCLUDE columns in order,
        -- default operator classes, collations and order, not attached to another index, not
        -- backing a constraint.
        existing := NULL;
        IF node.level > 0 AND node.relkind IN ('r', 'm') AND plain_keys THEN
            SELECT pg_catalog.format('%I.%I', xn.nspname, xc.relname) INTO existing
              FROM pg_catalog.pg_index x
              JOIN pg_catalog.pg_class xc ON xc.oid = x.indexrelid
              JOIN pg_catalog.pg_namespace xn ON xn.oid = xc.relnamespace
             WHERE x.indrelid = node.relid
               AND x.indisvalid AND x.indisready AND x.indislive
               AND NOT xc.relispartition
               AND xc.relam = am_oid
               AND x.indisunique = is_unique
               AND x.indnkeyatts = pg_catalog.cardinality(key_columns)
               AND x.indnatts = pg_catalog.cardinality(key_columns) + pg_catalog.cardinality(incl)
               AND x.indexprs IS NULL AND x.indpred IS NULL
               AND (SELECT pg_catalog.array_agg(k.attnum ORDER BY k.o) FROM pg_catalog.unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, o))
                   = (SELECT pg_catalog.array_agg(a.attnum ORDER BY u.o)
                        FROM pg_catalog.unnest(key_columns || incl) WITH ORDINALITY AS u(name, o)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = node.relid AND a.attname = u.name
                                                      AND a.attnum > 0 AND NOT a.attisdropped)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(x.indoption::int2[]) AS o(opt) WHERE o.opt <> 0)
               AND NOT EXISTS (SELECT 1
                                 FROM pg_catalog.unnest(x.indclass::oid[]) WITH ORDINALITY AS k(opc, o)
                                 JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opc
                                WHERE k.o <= x.indnkeyatts AND NOT oc.opcdefault)
               AND NOT EXISTS (SELECT 1
                                 FROM ROWS FROM (pg_catalog.unnest(x.indcollation::oid[]), pg_catalog.unnest(x.indkey::int2[]))
                                      WITH ORDINALITY AS k(coll, attnum, o)
                                 JOIN pg_catalog.pg_attribute a ON a.attrelid = node.relid AND a.attnum = k.attnum
                                WHERE k.o <= x.indnkeyatts AND k.coll <> a.attcollation)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pc WHERE pc.conindid = x.indexrelid)
               AND NOT (is_unique AND pg_catalog.pg_get_indexdef(x.indexrelid) LIKE '% NULLS NOT DISTINCT %')
             ORDER BY xc.relname
             LIMIT 1;
        END IF;

        p_rel   := p_rel || node.relid;
        p_table := p_table || node.qname;
        IF existing IS NOT NULL THEN
            p_kind  := p_kind || 'reuse'::text;
            p_index := p_index || existing;
            p_ddl   := p_ddl || pg_catalog.format('ALTER INDEX %s ATTACH PARTITION %s',
                                                  p_index[pg_catalog.array_position(p_rel, node.parent)], existing);
            reused  := reused || existing;
            CONTINUE;
        END IF;
        p_index := p_index || pg_catalog.format('%I.%I', node.nspname, nm);
        planned := planned || pg_catalog.format('%I.%I', node.nspname, nm);
        IF node.relkind = 'p' THEN
            p_kind := p_kind || CASE WHEN node.level = 0 THEN 'parent' ELSE 'mid' END;
            p_ddl  := p_ddl || (pg_catalog.format('CREATE %sINDEX %I ON ONLY %s', uniq, nm, node.qname) || spec
                                || CASE WHEN node.level > 0
                                        THEN pg_catalog.format('; ALTER INDEX %s ATTACH PARTITION %I.%I',
                                                               p_index[pg_catalog.array_position(p_rel, node.parent)],
                                                               node.nspname, nm)
                                        ELSE '' END);
        ELSE
            p_kind  := p_kind || CASE WHEN node.level = 0 THEN 'plain' ELSE 'leaf' END;
            p_ddl   := p_ddl || (pg_catalog.format('CREATE %sINDEX CONCURRENTLY %I ON %s', uniq, nm, node.qname) || spec
                                 || CASE WHEN node.level > 0
                                         THEN pg_catalog.format('; ALTER INDEX %s ATTACH PARTITION %I.%I',
                                                                p_index[pg_catalog.array_position(p_rel, node.parent)],
                                                                node.nspname, nm)
                                         ELSE '' END);
            schemas := schemas || node.nspname::text;
            nbuild  := nbuild + 1;
        END IF;
    END LOOP;

    top := p_index[1];

    -- ---- check the definition now rather than in the worker ----------------------------------
    -- The what-if engine parses and analyses the statement like CREATE INDEX (columns, types,
    -- operator classes, expressions, predicate) without building anything, under the search_path
    -- the worker will use (the table owner's own; see src/pg/identity.rs).
    IF method IN ('btree', 'hash', 'brin', 'gin') THEN
        DECLARE
            hypo      oid;
            role_path text;
            st        text;
            msg       text;
            hint      text;
        BEGIN
            SELECT pg_catalog.substr(x.c, 13) INTO role_path
              FROM (SELECT pg_catalog.unnest(d.setconfig) AS c,
                           CASE WHEN d.setdatabase <> 0 AND d.setrole <> 0 THEN 1
                                WHEN d.setrole <> 0 THEN 2 WHEN d.setdatabase <> 0 THEN 3 ELSE 4 END AS prio
                      FROM pg_catalog.pg_db_role_setting d
                     WHERE d.setdatabase IN (0, (SELECT db.oid FROM pg_catalog.pg_database db
                                                  WHERE db.datname = pg_catalog.current_database()))
                       AND d.setrole IN (0, root.relowner)) x
             WHERE x.c LIKE 'search_path=%'
             ORDER BY x.prio LIMIT 1;
            -- The owner's path, "$user" being the owner (the worker builds as the owner).
            role_path := pg_catalog.regexp_replace(COALESCE(role_path, '"$user", public'), '"?\$user"?',
                                                   pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(root.relowner)), 'g');
            PERFORM pg_catalog.set_config('search_path', role_path || ', pg_temp', true);
            SELECT h.indexrelid INTO hypo
              FROM @extschema@.hypothetical_index(pg_catalog.format('CREATE %sINDEX ON %s', uniq, root.qname) || spec) AS h;
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
            PERFORM @extschema@.drop_hypothetical(hypo);
        EXCEPTION
            WHEN feature_not_supported THEN
                NULL;   -- something the what-if engine does not model: the real build decides
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
                RAISE EXCEPTION 'create_index: %', msg
                      USING ERRCODE = st,
                            DETAIL = pg_catalog.format('The index would be: CREATE %sINDEX ON %s%s', uniq, root.qname, spec),
                            HINT = COALESCE(NULLIF(hint, '') || ' ', '')
                                   || 'Names in expressions are resolved with the table owner''s own search_path; schema-qualify them to be sure.';
        END;
    END IF;

    IF pg_catalog.transaction_timestamp() <> pg_catalog.statement_timestamp() THEN
        RAISE WARNING 'create_index: called inside a transaction block'
              USING DETAIL = 'The concurrent builds wait for this transaction to end (at most lock_timeout) and do not see what it has not committed.',
                    HINT = 'Call create_index on its own, outside BEGIN ... COMMIT.';
    END IF;

    -- ---- the commands --------------------------------------------------------------------------
    doomed := 'create_index_failed_' || run;
    after := NULL;
    -- partitioned: every ON ONLY index and its attach, in one transaction (all or nothing)
    IF root.relkind = 'p' THEN
        first_cmd := pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, NULL, %L); BEGIN',
                                       'claim', run,
                                       (SELECT pg_catalog.array_agg(p_index[i] ORDER BY i)
                                          FROM pg_catalog.generate_subscripts(p_kind, 1) AS i
                                         WHERE p_kind[i] IN ('parent', 'mid'))::text);
        FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
            CONTINUE WHEN p_kind[k] NOT IN ('parent', 'mid');
            first_cmd := first_cmd || '; ' || p_ddl[k];
        END LOOP;
        cmds := cmds || (first_cmd || '; COMMIT');
        after := top;
    END IF;
    -- each leaf (or the plain table): claim, build concurrently, attach
    FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
        CONTINUE WHEN p_kind[k] NOT IN ('plain', 'leaf');
        cmds := cmds || (pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L, %L); ',
                                           'claim', run, after, ARRAY[p_index[k]]::text)
                         || p_ddl[k]);
        after := p_index[k];
    END LOOP;
    -- existing equivalent leaf indexes: attached last, all in one transaction
    IF pg_catalog.cardinality(reused) > 0 THEN
        first_cmd := pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L, NULL); BEGIN', 'claim', run, after);
        FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
            CONTINUE WHEN p_kind[k] <> 'reuse';
            first_cmd := first_cmd || '; ' || p_ddl[k];
        END LOOP;
        cmds := cmds || (first_cmd || '; COMMIT');
    END IF;
    -- verify; remove what a failure left
    cmds := cmds || pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L, %L)', 'settle', run, top, reused::text);
    FOR s IN SELECT DISTINCT u.nsp FROM pg_catalog.unnest(schemas) AS u(nsp) ORDER BY 1 LOOP
        -- Waiting here blocks no reads or writes (only other DDL and VACUUM of the table), and
        -- giving up would leave the INVALID index: wait up to statement_timeout, not lock_timeout.
        cmds := cmds || pg_catalog.format('SET lock_timeout = 0; DROP INDEX CONCURRENTLY IF EXISTS %I.%I', s, doomed);
    END LOOP;
    cmds := cmds || pg_catalog.format('SELECT @extschema@.create_index_step(%L, %L, %L)', 'finish', run, top);

    -- ---- hand them over ------------------------------------------------------------------------
    -- wait => false: see the top of this file (a waiting caller would block its own builds).
    SELECT w.run_id INTO w_run
      FROM @extschema@.run_in_worker_as(root.relowner, cmds,
                                     statement_timeout => create_index_start.statement_timeout,
                                     lock_timeout      => create_index_start.lock_timeout,
                                     wait              => false,
                                     label             => 'create_index') AS w
     LIMIT 1;

    FOR k IN 1 .. pg_catalog.cardinality(p_kind) LOOP
        index_name  := p_index[k];
        on_table    := p_table[k];
        status      := 'started';
        message     := CASE p_kind[k]
                            WHEN 'reuse' THEN 'existing equivalent index, to be attached: ' || p_ddl[k]
                            ELSE p_ddl[k] END;
        duration_ms := NULL;
        run_id      := w_run;
        RETURN NEXT;
    END LOOP;
    index_name  := top;
    on_table    := root.qname;
    status      := 'started';
    message     := pg_catalog.format('run %s (job create_index): %s%s concurrent build(s)%s, in a background worker; '
                                     'when it ends, SELECT status, message FROM @extschema@.job_runs WHERE run_id = %s '
                                     '(succeeded: %s is valid; failed: it was not created, and the message says why and names anything that could not be removed)',
                                     w_run,
                                     CASE WHEN root.relkind = 'p'
                                          THEN pg_catalog.format('%s ON ONLY index(es), ', pg_catalog.cardinality(planned) - nbuild)
                                          ELSE '' END,
                                     nbuild,
                                     CASE WHEN pg_catalog.cardinality(reused) > 0
                                          THEN pg_catalog.format(', %s existing index(es) attached', pg_catalog.cardinality(reused))
                                          ELSE '' END,
                                     w_run, top);
    duration_ms := EXTRACT(epoch FROM pg_catalog.clock_timestamp() - t0) * 1000;
    run_id      := w_run;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.create_index_start(regclass, text[], text, text[], text, text, boolean, interval, interval) IS
  'The body of create_index(); call create_index().';


CREATE FUNCTION @extschema@.create_index(
    target            regclass,
    columns           text[],
    method            text     DEFAULT 'btree',
    include           text[]   DEFAULT NULL,
    predicate         text     DEFAULT NULL,
    index_name        text     DEFAULT NULL,
    is_unique         boolean  DEFAULT false,
    lock_timeout      interval DEFAULT '10 seconds',
    statement_timeout interval DEFAULT '1 hour')
RETURNS TABLE (index_name text, on_table text, status text, message text, duration_ms float8, run_id bigint)
LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT * FROM @extschema@.create_index_start($1, $2, $3, $4, $5, $6, $7, $8, $9)
$fn$;

COMMENT ON FUNCTION @extschema@.create_index(regclass, text[], text, text[], text, text, boolean, interval, interval) IS
  'Build an index without blocking writes: CREATE INDEX CONCURRENTLY on a plain table; on a partitioned one an ON ONLY index, a concurrent build on every leaf and ATTACH PARTITION. Runs in a background worker as you (you must own the tables) and returns at once with its run_id: the outcome is in optimizer.job_runs. A failed build leaves no INVALID index behind.';
