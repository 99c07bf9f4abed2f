"""The `slipway` command: deploy a directory, follow logs, roll back, from a terminal or CI.

It talks to Slipway over HTTP and Socket.io only and imports nothing of the server, so CI can
install it alone (cli/pyproject.toml, a few MB) instead of the whole server.
"""

__version__ = "0.1.0"  # released with the server: the same number as engine.__version__
