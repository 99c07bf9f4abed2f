"""The `slipway` command: deploy a directory, follow logs, roll back, from a terminal or CI."""
