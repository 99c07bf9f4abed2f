-- One-time sign-in codes: the OAuth callback's (60 s) and the local administrator's link
-- (15 minutes). Only a SHA-256 of each code is stored; redeeming deletes the row, so a code
-- works once even when two requests race.

CREATE TABLE login_codes (
    code_hash bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose text NOT NULL CHECK (purpose IN ('oauth', 'local')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_codes_user ON login_codes (user_id);
CREATE INDEX login_codes_expiry ON login_codes (expires_at);
