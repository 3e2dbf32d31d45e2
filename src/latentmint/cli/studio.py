"""Studio verbs: init, ingest, demo (the main job end to end)."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from latentmint.cli.common import app, emit, err, JsonOpt, out, progress_bar, StudioOpt, verb
from latentmint.cli.training import training_bar
from latentmint.cli.works import work_json, works_table


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
        out.print(Text.assemble("studio ready at ", (str(created.root), "bold"), "  (settings: latentmint.toml)"))


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
    max_pixels: Annotated[int, typer.Option(help="Refuse images with more pixels than this, from their header.", min=1)] = 100_000_000,  # photos.MAX_PIXELS
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
    studio: Annotated[Path, typer.Option("--studio", help="Studio folder for the demo (created, or resumed when it exists).")] = Path("demo-studio"),
    train_time: Annotated[str, typer.Option("--train-time", help="How long to train the 256 px model (its 64 px generator, then its upscaler), e.g. 5m.")] = "5m",
    as_json: JsonOpt = False,
) -> None:
    """The main job end to end on a demo studio: photos to a trained model, certified works, tokens, a sale, verified files."""

    from latentmint.chain.mint import token_of
    from latentmint.demo import RUN, run_demo
    from latentmint.gan.config import parse_duration

    quiet = as_json and not err.is_terminal
    with ExitStack() as stack:

        def on_stage(stage: str):
            stack.close()  # finish the previous stage's bar before the next one starts
            err.print(Text.assemble(("demo", "bold"), f": {stage}"))
            if stage in ("market", "verify"):  # a few transactions or files: no bar
                return None
            return stack.enter_context(training_bar(quiet) if stage == "train" else progress_bar(stage, quiet))

        result = run_demo(photos, studio, parse_duration(train_time), on_stage)
    trained = result.train.to_json() if result.train else None
    if as_json:
        works = [{**work_json(w), "seed": w.record["generation"]["seed"]} for w in result.works]
        certified = [{"work": w.id, "file": str(w.root / w.record["certificate"]["file"])} for w in result.certified]
        tokens = [{"work": w.id, **{k: t[k] for k in ("token_id", "tx", "token_uri", "image_cid")}} for w in result.certified if (t := token_of(w, result.network))]
        verified = [{"file": str(f), **v.to_json()} for f, v in result.verified]
        emit({"studio": str(result.studio.root), "ingest": result.ingest.to_json(), "train": trained, "works": works, "walk": work_json(result.walk), "certified": certified, "tokens": tokens, "sale": result.sale, "verified": verified})
        return
    print_ingest_report(result.ingest)
    out.print(works_table(f"{len(result.works)} works and a walk", [*result.works, result.walk]))
    table = Table(title="demo summary")
    table.add_column("what")
    table.add_column("where", overflow="fold")
    table.add_row("studio", str(result.studio.root))
    table.add_row("dataset", str(result.ingest.dataset))
    run = result.studio.runs / RUN
    table.add_row("training run", f"{run}  ({'trained ' + str(trained['steps']) + ' steps' if trained else 'already trained'})")
    table.add_row("samples", str(run / "samples"))
    table.add_row("loss curve", str(run / "loss.png"))
    table.add_row("works", str(result.studio.works))
    table.add_row("latent walk", str(result.walk.file))
    table.add_row("certified", f"{len(result.certified)} works (works/ID/certified.*); check one with `latentmint inspect FILE`")
    table.add_row("summary", result.certified[0].record["certificate"]["summary"] if result.certified else "-")
    tokens = [t for w in result.certified if (t := token_of(w, result.network))]
    if tokens:
        table.add_row("tokens", f"{len(tokens)} on the embedded chain ({len(result.minted)} minted now), collection {tokens[0]['collection']}")
        table.add_row("first token", f"{hex(int(tokens[0]['token_id']))}\n{tokens[0]['token_uri']}\n`latentmint history {tokens[0]['token_id']} --studio {result.studio.root}`")
    if result.sale:
        table.add_row("sale", f"listed at {result.sale['price_wei'] / 1e18:g} ETH, bought by the collector wallet {result.sale['buyer']}; royalty {result.sale['royalty_wei'] / 1e18:g} ETH to the artist")
    for file, v in result.verified:
        table.add_row("verify", f"{os.path.relpath(file)}: {v.verdict} ({v.reason})")
    table.add_row("gallery", f"`latentmint serve --studio {result.studio.root}` then open http://127.0.0.1:8000/")
    table.add_row("next", f"`latentmint wallet show --studio {result.studio.root}`; `latentmint verify FILE --studio {result.studio.root}`")
    out.print(table)
