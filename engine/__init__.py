"""Slipway's engine: builds and deploys, with no knowledge of HTTP.

One package per domain, each importing only those below it:
projects → builds → github → deploys → sites; accounts and containers stand alone. The modules
here (config, crypto, errors, events, ownership, times) are what every package uses.
"""

__version__ = "0.1.0"
