-- HTTPS (SPEC, "HTTPS and custom domains"): ACME accounts, certificates, and the HTTP-01
-- answers of orders in flight. They live in the database so that a restart or another
-- instance reuses them and any instance can answer a CA's challenge. Private keys are
-- AES-256-GCM ciphertexts bound to their row (engine.crypto).
CREATE TABLE acme_accounts (
    directory_url text PRIMARY KEY,
    key_ciphertext bytea NOT NULL,
    key_nonce bytea NOT NULL CHECK (octet_length(key_nonce) = 12),
    account_url text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE certificates (
    hostname text PRIMARY KEY
        CHECK (hostname = lower(hostname) AND length(hostname) BETWEEN 1 AND 253),
    status text NOT NULL CHECK (status IN ('pending', 'issued', 'failed')),
    key_ciphertext bytea,
    key_nonce bytea CHECK (octet_length(key_nonce) = 12),
    chain_pem text,
    not_after timestamptz,
    error text,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'issued' OR (key_ciphertext IS NOT NULL AND chain_pem IS NOT NULL
                                  AND not_after IS NOT NULL))
);

CREATE TABLE acme_challenges (
    token text PRIMARY KEY CHECK (token ~ '^[A-Za-z0-9_-]{1,255}$'),
    key_authorization text NOT NULL,
    expires_at timestamptz NOT NULL
);
