"""Who is signed in: sessions (JWT), one-time sign-in codes, and a user's stored GitHub token.

May import: engine's core modules (config, crypto, errors, events, times) and sql.
"""
