"""Release storage (SPEC "Scale-out"): where published releases are kept when several
processes share them. With file storage (the default) that is the deployments directory and
nothing here is used; with S3 each release is uploaded once, immutable, and every web process
serves from a local cache it keeps in step with the database's pointers.

May import: engine.sites, engine.deploys.releases, engine's core modules and sql.
"""
