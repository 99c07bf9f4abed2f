-- A project without Git (SPEC "Automation": upload deploys without Git): created without a
-- repo_url, published only by `slipway deploy`. Its production deploys are recorded under its
-- `branch` (main unless given).
ALTER TABLE projects ALTER COLUMN repo_url DROP NOT NULL;
