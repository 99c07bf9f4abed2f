-- Scale-out (SPEC "Scale-out"): several processes share the build queue.
-- Every process that runs builds (workers, and web processes for upload deploys) is a row
-- here, keyed by its instance name (derived from its data directory, so a restarted process is
-- the same row), and beats its heart into it; a running build names the process running it, so
-- a process that stops beating has its builds failed by whichever process notices first.
CREATE TABLE instances (
    id text PRIMARY KEY,
    hostname text NOT NULL,
    roles text NOT NULL,
    concurrency integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE builds ADD COLUMN runner text;
-- Set when a running build is asked to stop (by its owner, or because its project is being
-- deleted); the process running it sees it through NOTIFY, or at its next heartbeat.
ALTER TABLE builds ADD COLUMN stop_reason text;

CREATE INDEX builds_running_by_runner ON builds (runner) WHERE status = 'running';
