-- Webhook deliveries and branch previews.

-- A preview build publishes to `git-<slug>--<project>` and never touches production; NULL for
-- production builds.
ALTER TABLE builds ADD COLUMN preview text
    CHECK (preview ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$');

-- Every delivery GitHub makes, per project it concerns, with what Slipway decided. The raw body
-- of validly signed deliveries is kept so they can be replayed.
CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    delivery_guid text NOT NULL CHECK (length(delivery_guid) <= 100),
    event text NOT NULL CHECK (length(event) <= 100),
    repository text,
    ref text,
    commit_sha text,
    signature_valid boolean NOT NULL,
    decision text NOT NULL,
    body bytea,
    received_at timestamptz NOT NULL DEFAULT now(),
    CHECK (body IS NULL OR signature_valid)
);
CREATE INDEX webhook_deliveries_project ON webhook_deliveries (project_id, id DESC);
CREATE INDEX webhook_deliveries_guid ON webhook_deliveries (project_id, delivery_guid)
    WHERE signature_valid;
