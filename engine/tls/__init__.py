"""HTTPS: certificates obtained over ACME (HTTP-01), and the HTTP-01 challenges they need.

The protocol is certbot's `acme` package; this package only decides what to ask for and keeps
what it gets.

May import: engine's core modules and sql.
"""
