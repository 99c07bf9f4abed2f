"""Projects and what belongs to them: settings and their rules, secrets, deploy hooks.

May import: every other engine package (it is the top: creating a project registers a webhook
and queues a build), engine's core modules and sql.
"""
