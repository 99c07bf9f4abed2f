-- The Node major a project's builds use, when the project names one (SPEC, Builds, 4): NULL
-- lets the build choose from .nvmrc, .node-version, engines.node or the default.
ALTER TABLE projects
    ADD COLUMN node_version smallint CHECK (node_version BETWEEN 4 AND 99);
