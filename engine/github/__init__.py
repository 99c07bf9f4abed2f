"""GitHub: the OAuth and REST client, webhook deliveries, and commit statuses.

May import: engine.accounts, engine.deploys, engine's core modules and sql.
"""
