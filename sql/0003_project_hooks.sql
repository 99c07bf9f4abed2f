-- What projects need beyond the core tables: the GitHub repository a project tracks (for
-- webhook deliveries), the outcome of registering its webhook, and deploy hooks.

ALTER TABLE projects
    ADD COLUMN github_repo text CHECK (github_repo = lower(github_repo)),  -- "owner/name"
    ADD COLUMN webhook_error text;
-- Deliveries name a repository and a branch; every project tracking both builds.
CREATE INDEX projects_github_repo_branch ON projects (github_repo, branch)
    WHERE github_repo IS NOT NULL;

-- A deploy hook is a secret URL (`/api/hooks/<token>`) that queues a build when POSTed to, for
-- other Git hosts and CI. Only the token's SHA-256 is stored.
CREATE TABLE deploy_hooks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX deploy_hooks_project ON deploy_hooks (project_id, id);
