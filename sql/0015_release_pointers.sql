-- Release storage (SPEC "Scale-out"): which release each host serves, in the database, so that
-- every web process agrees. Production is the project's `live` deployment already; a branch
-- preview had only its link on disk, and is now a row too. With S3 storage these rows are
-- what web processes follow; with file storage the links on disk still serve and the rows
-- are kept alongside them.
CREATE TABLE previews (
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    slug text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    build_id bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, slug)
);
