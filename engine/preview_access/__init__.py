"""Protected previews (SPEC, Automation): a project's password on its preview and build-id
hosts. Owns the password hashes, the in-memory table of protected projects the site server
reads, the signed unlock cookies and the throttle on guessing; production hosts and custom
domains are never locked.

May import: engine.sites, engine's core modules and sql.
"""
