"""The Docker engine: connecting to it, and running a build's steps in containers under limits.

May import: nothing else of Slipway's (it knows Docker, not builds or projects).
"""
