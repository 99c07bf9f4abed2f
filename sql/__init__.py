"""Slipway's schema (numbered .sql migrations in this directory) and its database access."""
