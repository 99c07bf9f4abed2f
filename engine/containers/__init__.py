"""The Docker engine: connecting to it, and running a build's steps in containers under limits.

May import: engine's core modules only (it knows Docker, not builds or projects).
"""
