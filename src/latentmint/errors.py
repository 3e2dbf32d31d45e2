"""Errors a user can act on. The CLI prints them as one line and exits 1."""

from __future__ import annotations


class LatentmintError(Exception):
    """A job failed for a reason the user can fix; the message names the file and the reason."""


def warn(message: str) -> None:
    """A warning the user should see (on stderr, as text: never parsed as markup)."""
    import sys

    print(f"warning: {message}", file=sys.stderr, flush=True)
