"""Running builds: the durable queue, one build from clone to outcome, detection of how to build,
the generated Dockerfile, and the log pipeline.

May import: engine.accounts, engine.containers, engine.github, engine.deploys, engine's core
modules and sql.
"""
