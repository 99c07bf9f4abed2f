-- Custom domains (SPEC, "HTTPS and custom domains"): a project's own host names, proved
-- through a TXT record at `_slipway.<hostname>` holding `verification_token`. `status` is
-- what verification found; whether a verified domain is also `active` (its certificate
-- issued) is read from `certificates`, so every instance agrees.
CREATE TABLE domains (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hostname text NOT NULL UNIQUE
        CHECK (hostname = lower(hostname) AND length(hostname) BETWEEN 1 AND 253),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'failed')),
    verification_token text NOT NULL,
    redirect_to text,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    checked_at timestamptz,
    verified_at timestamptz,
    CHECK (redirect_to IS NULL OR redirect_to <> hostname)
);

CREATE INDEX domains_project_id ON domains (project_id);
CREATE INDEX domains_unverified ON domains (checked_at) WHERE status <> 'verified';
