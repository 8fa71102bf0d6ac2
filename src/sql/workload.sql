-- Imported workloads (issue 16): documents written by optimizer.export_workload() on another
-- server (a standby's reads, production's statements on a staging copy), stored by
-- optimizer.import_workload(document, source) and advised with
-- optimizer.index_advice(sources => ARRAY['local', '<source>']).
--
-- Each row belongs to the role that imported it: row-level security shows a role its own
-- imports (and those of roles whose privileges it holds); superusers see all. The advisor reads
-- them as the caller, so it advises only what the caller may see, and plans each imported
-- statement as the local role of the same name only if both the caller and the importer hold
-- that role's privileges (src/advisor/workload.rs).

CREATE TABLE @extschema@.imported_workloads (
    source          text        NOT NULL CHECK (source <> '' AND source <> 'local' AND pg_catalog.octet_length(source) <= 63),
    imported_by     regrole     NOT NULL DEFAULT CURRENT_USER::text::regrole,
    imported_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    database        text,
    exported_at     timestamptz,
    server_version  text,
    in_recovery     boolean,
    document        jsonb       NOT NULL,
    PRIMARY KEY (source, imported_by)
);
COMMENT ON TABLE @extschema@.imported_workloads IS
  'Workloads exported on other servers (optimizer.export_workload) and imported here, for index_advice(sources => ...); each role sees its own';

ALTER TABLE @extschema@.imported_workloads ENABLE ROW LEVEL SECURITY;
CREATE POLICY imports_of_their_importer ON @extschema@.imported_workloads
    USING (pg_catalog.pg_has_role(CURRENT_USER, imported_by, 'USAGE'))
    WITH CHECK (imported_by = CURRENT_USER::text::regrole);
GRANT SELECT, INSERT, DELETE ON @extschema@.imported_workloads TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.imported_workloads', '');
