-- The six core tables of SPEC.md "Data". Encrypted values are AES-256-GCM ciphertexts kept with
-- their 96-bit nonce. Every row is owned, directly or through its project, by one user, and
-- deleting a user or a project removes everything below it.

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    github_id bigint UNIQUE,                       -- NULL for the local administrator
    username text NOT NULL CHECK (length(username) BETWEEN 1 AND 100),
    email text,
    avatar_url text,
    access_token_ciphertext bytea,
    access_token_nonce bytea CHECK (octet_length(access_token_nonce) = 12),
    token_version integer NOT NULL DEFAULT 0,      -- bumped by logout: revokes every JWT
    is_local_admin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((access_token_ciphertext IS NULL) = (access_token_nonce IS NULL)),
    CHECK (is_local_admin OR github_id IS NOT NULL)
);
-- At most one local administrator per instance.
CREATE UNIQUE INDEX users_one_local_admin ON users (is_local_admin) WHERE is_local_admin;

CREATE TABLE projects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- A DNS label without "--" (that separator belongs to preview hosts). Lower case only, so
    -- the unique constraint below is also case-insensitive.
    name text NOT NULL UNIQUE
        CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' AND position('--' IN name) = 0),
    repo_url text NOT NULL CHECK (length(repo_url) BETWEEN 1 AND 2048),
    branch text NOT NULL DEFAULT 'main' CHECK (length(branch) BETWEEN 1 AND 255),
    install_command text,
    build_command text,
    output_dir text,
    root_dir text,
    framework text,
    production_url text,
    webhook_id bigint,
    webhook_secret_ciphertext bytea,
    webhook_secret_nonce bytea CHECK (octet_length(webhook_secret_nonce) = 12),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((webhook_secret_ciphertext IS NULL) = (webhook_secret_nonce IS NULL))
);
CREATE INDEX projects_owner ON projects (owner_id, id DESC);
-- Webhook deliveries find every project tracking a repository and branch.
CREATE INDEX projects_repo_branch ON projects (repo_url, branch);

CREATE TABLE builds (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'passed', 'failed', 'canceled')),
    trigger text NOT NULL CHECK (trigger IN ('push', 'manual', 'rollback', 'hook')),
    branch text NOT NULL,
    commit_sha text CHECK (commit_sha ~ '^[0-9a-f]{40}([0-9a-f]{24})?$'),
    commit_message text,
    commit_author text,
    exit_code integer,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    -- Lets deployments reference (build, project) so a deployment cannot point at another
    -- project's build.
    UNIQUE (id, project_id),
    CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
-- History newest first, paged with `before=<id>`: an index range scan however many builds.
CREATE INDEX builds_project_newest ON builds (project_id, id DESC);
-- The dispatcher's view: only unfinished builds, so it stays small.
CREATE INDEX builds_unfinished ON builds (id) WHERE status IN ('queued', 'running');

CREATE TABLE build_logs (
    build_id bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    line_number integer NOT NULL CHECK (line_number > 0),
    stream text NOT NULL
        CHECK (stream IN ('build_stdout', 'build_stderr', 'run_stdout', 'run_stderr', 'system')),
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- One row a line, one sequence per build; `after=` catch-up is a range scan of this key.
    PRIMARY KEY (build_id, line_number)
);

CREATE TABLE deployments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    build_id bigint NOT NULL,
    status text NOT NULL CHECK (status IN ('live', 'superseded', 'rolled_back')),
    url text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (build_id, project_id) REFERENCES builds (id, project_id) ON DELETE CASCADE
);
CREATE INDEX deployments_project_newest ON deployments (project_id, id DESC);
CREATE INDEX deployments_build ON deployments (build_id, project_id);
-- A project has at most one live deployment: swapping it is one transaction.
CREATE UNIQUE INDEX deployments_one_live ON deployments (project_id) WHERE status = 'live';

CREATE TABLE secrets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$' AND length(name) <= 255),
    ciphertext bytea NOT NULL,
    nonce bytea NOT NULL CHECK (octet_length(nonce) = 12),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
