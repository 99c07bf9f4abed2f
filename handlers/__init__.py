"""Slipway's HTTP and Socket.io surface: handlers speak HTTP and call the engine, nothing more."""
