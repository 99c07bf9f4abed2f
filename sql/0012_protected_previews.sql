-- Protected previews (SPEC, Automation): a project may ask for a password on its preview and
-- build-id hosts. Only a salted scrypt hash is kept ("scrypt$<n>$<r>$<p>$<salt>$<hash>",
-- base64), never the password. `preview_password_version` goes up with every change of the
-- password (set, changed or removed) and is signed into each unlock cookie, so a change ends
-- every cookie given before it.
ALTER TABLE projects
    ADD COLUMN preview_password_hash text CHECK (preview_password_hash LIKE 'scrypt$%'),
    ADD COLUMN preview_password_version integer NOT NULL DEFAULT 0;
