-- Environments of a secret (SPEC, Automation): a secret is given to production builds, to
-- preview builds, or to both. Secrets set before this existed keep reaching every build.
ALTER TABLE secrets
    ADD COLUMN environments text[] NOT NULL DEFAULT '{production,preview}'
        CHECK (cardinality(environments) > 0
               AND environments <@ '{production,preview}'::text[]);
