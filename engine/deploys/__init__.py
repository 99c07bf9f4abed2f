"""Making a build's output live: releases on disk, the atomic swap, previews, rollback.

May import: engine.sites, engine's core modules and sql.
"""
