"""The `latentmint` command: one verb per stage; each parses, calls one function, and prints.

People get Rich tables and progress bars (on stderr); scripts pass --json and get one JSON document
on stdout. Exit codes: 0 success, 1 the job failed, 2 bad usage. One module per verb group; importing
them registers their verbs on `app`, in the order `latentmint --help` lists them.
"""

from __future__ import annotations

import sys

from latentmint.cli import studio, training, works, provenance, chain, market, gallery  # noqa: F401, I001  (registers the verbs, in this order)
from latentmint.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `latentmint ... | head` is fine
        sys.stderr.close()


if __name__ == "__main__":
    main()
