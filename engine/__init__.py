"""Slipway's engine: builds and deploys, with no knowledge of HTTP."""

__version__ = "0.1.0"
