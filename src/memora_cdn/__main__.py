"""`python -m memora_cdn` and the `memora-cdn` script: the command line, where a Ctrl-C while
its modules load ends in one line and exit 130, not a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line."""
    try:
        from memora_cdn.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from None
    run()


if __name__ == "__main__":
    main()
