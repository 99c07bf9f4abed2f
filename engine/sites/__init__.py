"""Published sites as visitors reach them: project names, where sites live on disk, how a request
path resolves to a file, and the nginx configuration that does the same.

May import: engine's core modules.
"""
