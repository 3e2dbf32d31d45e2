"""What every verb shares: the Typer app, the two consoles, common options, errors as one line, progress bars."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from latentmint import __version__
from latentmint.errors import LatentmintError

app = typer.Typer(
    name="latentmint",
    help="Train a face generator on your own photos, shape its outputs into artworks, and publish them with verifiable provenance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# markup=False: names, notes, file names and token URIs are the user's text, never Rich markup; styles are explicit.
err = Console(stderr=True, markup=False, highlight=False)
out = Console(markup=False, highlight=False)

StudioOpt = Annotated[
    Optional[Path],
    typer.Option("--studio", help="Studio folder (default: the current folder or the nearest parent holding latentmint.toml).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts) instead of tables.")]


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": message}))
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(1)


def verb(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a LatentmintError into a one-line message and exit code 1 (and {"error": ...} under --json)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LatentmintError as exc:
            _fail(str(exc), bool(kwargs.get("as_json")))
        except KeyboardInterrupt:
            err.print(Text.assemble(("interrupted", "yellow"), ": work so far is saved; run the same command again to resume"))
            raise typer.Exit(130) from None

    return wrapper


def emit(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


@contextmanager
def progress_bar(description: str, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A Rich bar with count, elapsed time and ETA on stderr; yields `update(done, total)`."""
    bar = Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        print(f"latentmint {__version__}")
        raise typer.Exit(0)


def password(confirm: bool = False) -> str:
    """From LATENTMINT_PASSWORD, else a hidden prompt; never echoed, logged or stored."""
    value = os.environ.get("LATENTMINT_PASSWORD")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise LatentmintError("no password: set LATENTMINT_PASSWORD or run in a terminal to be asked")
    return typer.prompt("password for the studio's keys", hide_input=True, confirmation_prompt=confirm, err=True)


NetworkOpt = Annotated[Optional[str], typer.Option("--network", help="embedded (the studio's own chain) or a JSON-RPC URL (default: latentmint.toml's chain.network).", show_default=False)]
AsOpt = Annotated[Optional[str], typer.Option("--as", help="Act as this studio account: artist (default) or a wallet from `latentmint wallet add`.", show_default=False)]
TokenArg = Annotated[str, typer.Argument(help="Token id (decimal or 0x hex: the sha256 of the certified file).")]

def parse_token_id(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise LatentmintError(f"{text!r}: a token id is a number (decimal or 0x hex)") from None


def chain_action(studio: Optional[Path], network: Optional[str], who: Optional[str], action: Callable[..., dict], *args: Any) -> dict:
    """Open the studio and network, unlock the acting account, run `action(studio, net, key, *args)`."""
    from latentmint.chain.market import account_key
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    net = connect(opened, network)
    return action(opened, net, account_key(opened, password(), who), *args)


def print_doc(doc: dict, as_json: bool, line: str) -> None:
    if as_json:
        emit(doc)
    else:
        out.print(line)

