-- Deploy notifications (SPEC "Automation"): a project's URLs told about builds and deploys.
-- The signing secret (format json only) is sealed like webhook secrets, bound to the
-- notification's id; it is shown once, when the notification is created.
CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events text[] NOT NULL CHECK (cardinality(events) > 0 AND events <@ ARRAY[
        'deploy_succeeded', 'deploy_failed', 'build_started']::text[]),
    format text NOT NULL CHECK (format IN ('json', 'slack', 'discord')),
    secret_nonce bytea CHECK (octet_length(secret_nonce) = 12),
    secret_ciphertext bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((secret_ciphertext IS NULL) = (secret_nonce IS NULL))
);
CREATE INDEX notifications_project ON notifications (project_id, id);

-- One row per message to send: the exact body is stored, so a retry (after a restart too)
-- sends the same bytes with the same signature. Rows are the queue: several instances claim
-- due ones with FOR UPDATE SKIP LOCKED.
CREATE TABLE notification_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    event text NOT NULL CHECK (event IN ('deploy_succeeded', 'deploy_failed', 'build_started',
                                         'test')),
    body bytea NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
-- The delivery log, newest first.
CREATE INDEX notification_deliveries_log ON notification_deliveries (notification_id, id DESC);
-- The worker's view: only what is still to send, so it stays small.
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE status = 'pending';
