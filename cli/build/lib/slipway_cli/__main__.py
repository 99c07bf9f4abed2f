"""`python -m slipway_cli`, the same as the `slipway` command."""

from slipway_cli.main import cli

cli()
