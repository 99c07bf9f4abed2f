"""Entry point of the `slipway` console script."""


def main() -> int:
    return 0
