-- Personal access tokens (SPEC, "Automation"): `slw_...` Bearer tokens for CI and scripts,
-- limited by scopes. Only the SHA-256 of a token is stored (a token is 256 random bits, so a
-- fast hash is as safe as a slow one); `prefix` is its first characters, shown so a user can
-- tell tokens apart. A deleted row is a revoked token.
CREATE TABLE api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes text[] NOT NULL
        CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'deploy', 'admin']),
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    prefix text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at timestamptz          -- NULL: never expires
);
CREATE INDEX api_tokens_owner ON api_tokens (owner_id, id);
