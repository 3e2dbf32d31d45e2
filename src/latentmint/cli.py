"""The `latentmint` command: one verb per stage; each parses, calls one function, and prints.

People get Rich tables and progress bars (on stderr); scripts pass --json and get one JSON document
on stdout. Exit codes: 0 success, 1 the job failed, 2 bad usage.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from latentmint import __version__
from latentmint.errors import LatentmintError

app = typer.Typer(
    name="latentmint",
    help="Train a face generator on your own photos, shape its outputs into artworks, and publish them with verifiable provenance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

StudioOpt = Annotated[
    Optional[Path],
    typer.Option("--studio", help="Studio folder (default: the current folder or the nearest parent holding latentmint.toml).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts) instead of tables.")]


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": message}))
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
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
            err.print("[yellow]interrupted[/]: work so far is saved; run the same command again to resume")
            raise typer.Exit(130) from None

    return wrapper


def emit(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


@contextmanager
def progress_bar(description: str, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A Rich bar with count, elapsed time and ETA on stderr; yields `update(done, total)`."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
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


@app.command()
@verb
def init(
    directory: Annotated[Optional[Path], typer.Argument(help="Folder for the new studio (default: --studio, else the current folder).", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option(help="Studio name (default: the folder's name).")] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a studio: latentmint.toml and the folders each stage writes to."""
    from latentmint.studio import init_studio

    created = init_studio(directory or studio or Path.cwd(), name)
    if as_json:
        emit({"studio": str(created.root), "settings": str(created.root / "latentmint.toml")})
    else:
        out.print(f"studio ready at [bold]{created.root}[/]  (settings: latentmint.toml)")


def _resolution(value: int) -> int:
    from latentmint.data.ingest import RESOLUTIONS

    if value not in RESOLUTIONS:
        raise typer.BadParameter(f"{value} is not one of {', '.join(map(str, RESOLUTIONS))}")
    return value


@app.command()
@verb
def ingest(
    photos: Annotated[Path, typer.Argument(help="Folder of photos (sub-folders included).", exists=True, file_okay=False, dir_okay=True)],
    name: Annotated[Optional[str], typer.Option("--name", help="Dataset name (default: the photos folder's name).", show_default=False)] = None,
    resolution: Annotated[int, typer.Option(help="Side of the aligned faces, a power of two from 64 to 1024.", callback=_resolution)] = 256,
    credits: Annotated[Optional[Path], typer.Option(help="CSV with a file column and author/license/source_url columns.", exists=True, dir_okay=False)] = None,
    aligned: Annotated[bool, typer.Option("--aligned", help="Inputs are already aligned face crops: skip detection, only resize.")] = False,
    min_face: Annotated[Optional[int], typer.Option(help="Smallest face to keep, as the side of its crop in source pixels (default: half the resolution).", min=1, show_default=False)] = None,
    min_size: Annotated[int, typer.Option(help="Smallest photo to read, shortest side in pixels.", min=1)] = 64,
    blur_threshold: Annotated[float, typer.Option(help="Reject faces whose sharpness (variance of the Laplacian) is under this; 0 keeps all.", min=0)] = 15.0,
    max_pixels: Annotated[int, typer.Option(help="Refuse images with more pixels than this, from their header.", min=1)] = 100_000_000,
    detector: Annotated[str, typer.Option(help="Face detector: hog (fast) or cnn (finds turned faces, slow on a CPU).")] = "hog",
    workers: Annotated[int, typer.Option(help="Worker processes (0: one per core).", min=0)] = 0,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn a folder of photos into an aligned, deduplicated, credited face dataset."""
    from latentmint.data.ingest import IngestOptions
    from latentmint.data.ingest import ingest as run_ingest
    from latentmint.studio import open_studio

    if detector not in ("hog", "cnn"):
        raise typer.BadParameter(f"{detector!r}: choose hog or cnn", param_hint="--detector")
    opened = open_studio(studio)
    options = IngestOptions(resolution, aligned, credits, min_size, min_face, blur_threshold, max_pixels, detector, 512, workers)
    with progress_bar(f"ingest {photos.name}", quiet=as_json and not err.is_terminal) as update:
        report = run_ingest(photos, opened, name or photos.resolve().name, options, update)
    if as_json:
        emit(report.to_json())
        return
    print_ingest_report(report)


def print_ingest_report(report: Any, shown: int = 15) -> None:
    table = Table(title=f"ingest into {report.dataset}", show_header=True)
    table.add_column("outcome")
    table.add_column("files", justify="right")
    table.add_row("kept", str(len(report.kept)))
    if report.already:
        table.add_row("already in the dataset", str(report.already))
    for reason, count in sorted(report.counts().items()):
        table.add_row(f"rejected: {reason}", str(count))
    table.add_row("faces in the dataset", str(report.faces_total), style="bold")
    out.print(table)
    if report.rejected:
        rej = Table(title="rejected files", show_header=True)
        for col in ("file", "reason", "detail"):
            rej.add_column(col, overflow="fold")
        for item in report.rejected[:shown]:
            rej.add_row(item["file"], item["reason"], item["detail"])
        out.print(rej)
        if len(report.rejected) > shown:
            out.print(f"... and {len(report.rejected) - shown} more in {report.dataset / 'report.json'}")
    out.print(f"contact sheet: {report.dataset / 'contact.png'}   ({report.seconds:.1f} s)")


@app.command()
@verb
def demo(
    photos: Annotated[Optional[Path], typer.Option(help="Folder of photos (default: ../shared/datasets/london when present).", show_default=False)] = None,
    studio: Annotated[Path, typer.Option("--studio", help="Studio folder for the demo (created or resumed).")] = Path("demo-studio"),
    as_json: JsonOpt = False,
) -> None:
    """Run every stage that exists, end to end, on a demo studio."""
    from latentmint.demo import run_demo

    with progress_bar("demo: ingest", quiet=as_json and not err.is_terminal) as update:
        result = run_demo(photos, studio, update)
    if as_json:
        emit({"studio": str(result.studio.root), "ingest": result.ingest.to_json()})
        return
    print_ingest_report(result.ingest)
    out.print(f"demo studio: [bold]{result.studio.root}[/]")


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `latentmint ... | head` is fine
        sys.stderr.close()


if __name__ == "__main__":
    main()
