"""The `latentmint` command: one verb per stage; each parses, calls one function, and prints.

People get Rich tables and progress bars (on stderr); scripts pass --json and get one JSON document
on stdout. Exit codes: 0 success, 1 the job failed, 2 bad usage.
"""

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
from rich.table import Table
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
def train(
    dataset: Annotated[Optional[str], typer.Argument(help="Dataset name (datasets/NAME); not needed with --resume.", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name (runs/NAME; default: the dataset's name).", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Steps to train (default 2600, or the run's own when resuming).", min=1, show_default=False)] = None,
    time_budget: Annotated[Optional[str], typer.Option("--time-budget", help="Stop after this long instead, e.g. 30m or 1h30m (whichever comes first).", show_default=False)] = None,
    resolution: Annotated[Optional[int], typer.Option(help="Train at this size (default: the dataset's); lower sizes are resampled on load.", show_default=False)] = None,
    preset: Annotated[Optional[str], typer.Option(help="Preset (default: faces-<R>-cpu on a CPU, faces-<R> on a GPU).", show_default=False)] = None,
    batch: Annotated[Optional[int], typer.Option(help="Batch size (overrides the preset).", min=1, show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run --name from its latest checkpoint.")] = False,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Start from another run's checkpoint (transfer learning).", exists=True, dir_okay=False, show_default=False)] = None,
    freeze_d: Annotated[int, typer.Option("--freeze-d", help="With --init-from: freeze this many early discriminator blocks.", min=0)] = 0,
    settings: Annotated[Optional[list[str]], typer.Option("--set", help="Override any setting, KEY=VALUE (repeatable), e.g. --set lr_g=1e-4.", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a face generator on a dataset (FastGAN, differentiable augmentation, EMA); Ctrl-C saves a checkpoint."""
    from latentmint.data.dataset import Dataset, dataset_dir
    from latentmint.gan.config import make_config, parse_duration, parse_override, pick_preset
    from latentmint.gan.train import train as run_train
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    overrides = dict(parse_override(text) for text in settings or [])
    for key, value in (("steps", steps), ("batch", batch), ("freeze_d", freeze_d or None)):
        if value is not None:
            overrides[key] = value
    if time_budget:
        overrides["time_budget_s"] = parse_duration(time_budget)
    overrides["device"] = device
    if resume:
        if not name:
            raise typer.BadParameter("--resume needs the run's --name", param_hint="--name")
        config, run_name = None, name
    else:
        if not dataset:
            raise typer.BadParameter("name the dataset to train on: latentmint train DATASET", param_hint="DATASET")
        res = resolution or Dataset.load(dataset_dir(opened.datasets, dataset)).resolution
        import torch

        on_gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        config = make_config(preset or pick_preset(res, "cuda" if on_gpu else "cpu"), {**overrides, "resolution": res})
        run_name = name or dataset
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    with training_bar((as_json and not err.is_terminal) or not main_process) as update:
        result = run_train(opened, dataset, run_name, config, resume=resume, resume_changes=overrides, init_from=init_from, progress=update)
    if not main_process:
        return
    if as_json:
        emit(result.to_json())
        return
    out.print(
        f"trained {result.steps} steps ({result.seconds_per_step:.3f} s/step on {result.device}, stopped by {result.stopped_by})\n"
        f"run: {result.run}\ncheckpoint: {result.checkpoint}\nsamples: {result.run / 'samples'}   loss curve: {result.run / 'loss.png'}"
    )


@contextmanager
def training_bar(quiet: bool) -> Iterator[Callable[[int, int, dict[str, float]], None]]:
    bar = Progress(
        TextColumn("train", style="bold"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err, disable=quiet,
    )  # fmt: skip
    task = bar.add_task("train", total=None, stats="")

    def update(step: int, total: int, stats: dict[str, float]) -> None:
        text = f"D {stats['loss_d']:.3f} G {stats['loss_g']:.3f} p {stats['p']:.2f} {stats['images_per_s']:.0f} img/s"
        bar.update(task, completed=step, total=total, stats=text)

    with bar:
        yield update


@app.command(name="eval")
@verb
def evaluate(
    run: Annotated[str, typer.Argument(help="Run name (runs/NAME) or a run folder.")],
    ref: Annotated[Path, typer.Option("--ref", help="Folder of reference photos the model never saw.", exists=True, file_okay=False)],
    samples: Annotated[int, typer.Option(help="Samples to generate (and reference images to use, at most).", min=10)] = 2000,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a run's generator against reference photos: SWD, and FID/KID when Inception weights are configured."""
    from latentmint.metrics.evaluate import evaluate_and_record
    from latentmint.metrics.fid import MISSING_WEIGHTS
    from latentmint.studio import open_studio

    if Path(run).is_dir():
        run_path, configured = Path(run), None
    else:
        opened = open_studio(studio)
        run_path, configured = opened.runs / run, opened.setting("metrics", "inception_weights")
    result = evaluate_and_record(run_path, ref, samples, configured or None)
    if as_json:
        emit({k: result[k] for k in ("swd", "fid", "kid", "samples")})
        return
    table = Table(title=f"eval {run_path.name} at step {result['step']} against {ref}")
    for col in ("metric", "value"):
        table.add_column(col)
    for key in ("swd", "fid", "kid"):
        table.add_row(key, "-" if result[key] is None else f"{result[key]:.4g}")
    table.add_row("samples", str(result["samples"]))
    out.print(table)
    if result["fid"] is None:
        err.print(MISSING_WEIGHTS)
    out.print(f"written: {result['json']}  plot: {result['plot']}")


def _work_json(work: Any) -> dict[str, Any]:
    o = work.record.get("originality", {})
    return {"id": work.id, "path": str(work.file), "near_copy": o.get("near_copy"), "lookalike": o.get("lookalike"), "identity_distance": o.get("identity_distance")}


def _works_table(title: str, works: list[Any]) -> Table:
    table = Table(title=title)
    for col in ("work", "made from", "near copy", "lookalike (id dist)", "file"):
        table.add_column(col, overflow="fold")
    for w in works:
        o, g = w.record.get("originality", {}), w.record["generation"]
        made = f"seed {g['seed']}" if "seed" in g else (f"mix {g['coarse']}x{g['fine']}" if "coarse" in g else f"walk {g['seeds']}")
        dist = "-" if o.get("identity_distance") is None else f"{o['identity_distance']:.2f}"
        table.add_row(w.id, made, Text("YES", style="red") if o.get("near_copy") else "no", f"{'yes' if o.get('lookalike') else 'no'} ({dist})", os.path.relpath(w.file))
    return table


TruncationOpt = Annotated[Optional[float], typer.Option(help="Pull latents towards the average face: 1 = full variety, 0.5 = safer.", min=0.01, max=1.0, show_default=False)]
DeviceOpt = Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")]


@app.command()
@verb
def generate(
    run: Annotated[str, typer.Argument(help="Run name (runs/NAME).")],
    seeds: Annotated[str, typer.Option(help="Seeds: a range and/or a list, e.g. 1-100 or 3,17,42.")] = "1-16",
    truncation: TruncationOpt = None,
    grid: Annotated[bool, typer.Option("--grid", help="Also write a contact sheet of the images.")] = False,
    device: DeviceOpt = "cpu",
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate one image work per seed, each checked for originality against the training faces."""
    from latentmint.art.generate import contact_grid
    from latentmint.art.generate import generate as make
    from latentmint.art.latents import parse_seeds
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    chosen = parse_seeds(seeds)
    with progress_bar("originality", quiet=as_json and not err.is_terminal) as update:
        works = make(opened, run, chosen, truncation, device, update)
    sheet = contact_grid(works, opened.runs / run / f"grid-{seeds.replace(',', '_')}.png") if grid else None
    if as_json:
        emit({"works": [{**_work_json(w), "seed": w.record["generation"]["seed"]} for w in works], **({"grid": str(sheet)} if sheet else {})})
        return
    out.print(_works_table(f"{len(works)} works from {run}", works))
    if sheet:
        out.print(f"grid: {sheet}")


@app.command()
@verb
def walk(
    run: Annotated[str, typer.Argument(help="Run name (runs/NAME).")],
    seeds: Annotated[str, typer.Option(help="The faces to walk through, in order, e.g. 3,17,42.")],
    frames: Annotated[int, typer.Option(help="Frames in the animation.", min=2, max=10_000)] = 120,
    loop: Annotated[bool, typer.Option("--loop/--no-loop", help="Return to the first face so the animation loops seamlessly.")] = True,
    fmt: Annotated[str, typer.Option("--format", help="gif, mp4 or webp.")] = "gif",
    fps: Annotated[int, typer.Option(help="Frames per second.", min=1, max=60)] = 24,
    truncation: TruncationOpt = None,
    device: DeviceOpt = "cpu",
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a smooth latent walk through chosen seeds as an animation work."""
    from latentmint.art.animate import FORMATS
    from latentmint.art.generate import walk as make_walk
    from latentmint.art.latents import parse_seeds
    from latentmint.studio import open_studio

    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r}: choose {', '.join(FORMATS)}", param_hint="--format")
    work = make_walk(open_studio(studio), run, parse_seeds(seeds), frames, loop, fmt, fps, truncation, device)
    if as_json:
        emit({"work": {"id": work.id, "path": str(work.file), "frames": frames}})
        return
    out.print(_works_table("walk", [work]))


@app.command()
@verb
def mix(
    run: Annotated[str, typer.Argument(help="Run name (runs/NAME).")],
    coarse: Annotated[int, typer.Option(help="Seed that sets the face's shape.", min=0)],
    fine: Annotated[int, typer.Option(help="Seed that sets colours and textures.", min=0)],
    truncation: TruncationOpt = None,
    device: DeviceOpt = "cpu",
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Style mixing: one seed's shape with another's colours and textures, as a new work."""
    from latentmint.art.generate import mix as make_mix
    from latentmint.studio import open_studio

    work = make_mix(open_studio(studio), run, coarse, fine, truncation, device)
    if as_json:
        emit({"work": _work_json(work)})
        return
    out.print(_works_table("mix", [work]))


@app.command()
@verb
def select(
    works: Annotated[list[str], typer.Argument(help="IDs of the works to keep.")],
    shown: Annotated[Optional[list[str]], typer.Option("--shown", help="The works you chose from (repeatable; default: every work of the same runs).", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark the works you keep; the curation (k of N shown) is recorded as your contribution."""
    from latentmint.art.works import select_works
    from latentmint.studio import open_studio

    selection = select_works(open_studio(studio), works, shown)
    if as_json:
        emit(selection)
        return
    out.print(f"selected {selection['k']} of {selection['of']} works: {', '.join(selection['selected'])}")


@app.command()
@verb
def originality(
    run: Annotated[str, typer.Argument(help="Run name (runs/NAME).")],
    image: Annotated[Optional[Path], typer.Option("--image", help="Score this image file instead of the model.", exists=True, dir_okay=False, show_default=False)] = None,
    samples: Annotated[int, typer.Option(help="Fresh samples for the memorisation rate.", min=1)] = 200,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How original is a model (memorisation rate, a sheet of works beside their nearest training faces), or one image."""
    from latentmint.art.originality import model_originality, score_image
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    if image is not None:
        verdict = score_image(opened, run, image)
        doc = {"near_copy": verdict.near_copy, "lookalike": verdict.lookalike, "identity_distance": verdict.identity_distance, "nearest": verdict.nearest}
        if as_json:
            emit(doc)
            return
        out.print(f"{image}: {'NEAR COPY of' if verdict.near_copy else 'original; closest'} {verdict.nearest[0]} (ncc {verdict.ncc:.2f}); "
                  f"{'looks like' if verdict.lookalike else 'a different person from'} {verdict.nearest_identity[0]} (identity distance {verdict.identity_distance:.2f})")
        return
    with progress_bar("originality", quiet=as_json and not err.is_terminal) as update:
        report = model_originality(opened, run, samples, update)
    if as_json:
        emit(report)
        return
    out.print(f"memorisation rate {report['memorisation_rate']:.1%} and lookalike rate {report['lookalike_rate']:.1%} over {samples} samples; sheet: {report['sheet']}")


identity_app = typer.Typer(help="The artist's identity: an Ethereum account and a signing certificate in keys/.", no_args_is_help=True)
app.add_typer(identity_app, name="identity")


def password(confirm: bool = False) -> str:
    """From LATENTMINT_PASSWORD, else a hidden prompt; never echoed, logged or stored."""
    value = os.environ.get("LATENTMINT_PASSWORD")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise LatentmintError("no password: set LATENTMINT_PASSWORD or run in a terminal to be asked")
    return typer.prompt("password for the studio's keys", hide_input=True, confirmation_prompt=confirm, err=True)


@identity_app.command("create")
@verb
def identity_create(
    name: Annotated[str, typer.Option("--name", help="Your name as it will appear on certificates.")],
    import_key: Annotated[Optional[Path], typer.Option("--import-key", help="Use the Ethereum private key (hex) in this file, or - to read it from standard input, instead of a new one.", dir_okay=False, show_default=False)] = None,
    cert: Annotated[Optional[Path], typer.Option("--cert", help="A CA-issued certificate chain (PEM, leaf first) to sign with.", exists=True, dir_okay=False, show_default=False)] = None,
    cert_key: Annotated[Optional[Path], typer.Option("--cert-key", help="The private key (PEM) of that certificate.", exists=True, dir_okay=False, show_default=False)] = None,
    force: Annotated[int, typer.Option("--force", count=True, help="Replace the studio's identity (the old one is kept in keys/old-<time>/); twice when it owns a collection.")] = 0,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create (or import) the studio's Ethereum account and content-credential certificate, encrypted with a password."""
    from latentmint.provenance.identity import create_identity
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    private_key = None
    if import_key is not None:  # never from the command line, where ps and shell history would show it
        try:
            private_key = (sys.stdin.read() if str(import_key) == "-" else import_key.read_text()).strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise LatentmintError(f"{import_key}: cannot read the key ({exc})") from exc
    made = create_identity(opened, name, password(confirm=True), private_key=private_key, cert_chain=cert, cert_key=cert_key, overwrite=force)
    if as_json:
        emit(made.to_json())
        return
    origin = "issued by the studio's own root CA" if made.self_issued else "imported"
    out.print(Text.assemble("identity ", (made.name, "bold"), f"\naddress: {made.address}\ncertificate sha256: {made.fingerprint} ({origin})\nkeys: {opened.keys}"))


@identity_app.command("show")
@verb
def identity_show(studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Print the studio's address and certificate fingerprint (no password needed)."""
    from latentmint.provenance.identity import load_identity
    from latentmint.studio import open_studio

    shown = load_identity(open_studio(studio))
    if as_json:
        emit(shown.to_json())
        return
    out.print(Text(f"{shown.name}\naddress: {shown.address}\ncertificate sha256: {shown.fingerprint}"))


@app.command()
@verb
def edit(
    work: Annotated[str, typer.Argument(help="Work ID (works/ID).")],
    edited: Annotated[Path, typer.Argument(help="The edited file (PNG, JPEG, GIF, WebP or MP4) you made from the work in another program.", exists=True, dir_okay=False)],
    note: Annotated[str, typer.Option("--note", help="What you changed, in plain words: it goes into the certificate.")],
    tool: Annotated[Optional[str], typer.Option("--tool", help="The program you edited with, e.g. Krita.", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an edit made outside latentmint; the edited file is what `certify` then signs, with the generated image as its parent."""
    from latentmint.art.works import load_work
    from latentmint.provenance.record import declare_edit
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    target = load_work(opened, work)
    entry = declare_edit(opened, target, edited, note, tool)
    if as_json:
        emit({"work": target.id, "file": str(target.root / entry["file"]), "sha256": entry["sha256"]})
        return
    out.print(f"{target.id}: edit {entry['file']} declared ({entry['note']})")


@app.command()
@verb
def certify(
    works: Annotated[list[str], typer.Argument(help="Work IDs (works/ID); `all` for every work not yet certified.")],
    allow_near_copy: Annotated[bool, typer.Option("--allow-near-copy", help="Certify works flagged as near copies of a training photo (the certificate says so).")] = False,
    code: Annotated[Optional[list[Path]], typer.Option("--code", help="A file or folder of code you wrote and used (hashed into the record; repeatable).", exists=True, show_default=False)] = None,
    training_mining: Annotated[Optional[str], typer.Option("--training-mining", help="May others train AI on or mine these works: notAllowed, allowed or constrained (default: the studio's setting).", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed signed content credentials (C2PA) in each work: what the AI made, what you did, which photos taught the model."""
    from latentmint.art.works import list_works, load_work
    from latentmint.provenance.certify import certify_work
    from latentmint.provenance.identity import load_identity, unlock
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    load_identity(opened)  # no identity: say so before asking for a password
    chosen = [w for w in list_works(opened) if not w.record.get("certificate")] if works == ["all"] else [load_work(opened, w) for w in works]
    keys = unlock(opened, password())
    done = []
    with progress_bar("certify", quiet=as_json and not err.is_terminal) as update:
        for i, w in enumerate(chosen):
            done.append(certify_work(opened, w, keys, allow_near_copy=allow_near_copy, code=code or [], training_mining=training_mining))
            update(i + 1, len(chosen))
    if as_json:
        files = [{"work": w.id, "file": str(w.root / w.record["certificate"]["file"]), "new": new} for w, new in done]
        emit(files[0] if len(files) == 1 else {"certified": files})
        return
    for w, new in done:
        c = w.record["certificate"]
        out.print(f"{w.id}: {'certified' if new else 'already certified'} -> {os.path.relpath(w.root / c['file'])}\n  {c['summary']}")


@app.command()
@verb
def inspect(
    file: Annotated[Path, typer.Argument(help="Any PNG, JPEG, GIF, WebP or MP4 file.", exists=True, dir_okay=False)],
    trust: Annotated[Optional[list[Path]], typer.Option("--trust", help="A root certificate (PEM) to trust besides the studio's own (repeatable).", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read and validate a file's content credentials: signature, binding to the pixels, signer, creator, creativity record."""
    from latentmint.provenance.certify import trust_anchors
    from latentmint.provenance.credentials import inspect_file
    from latentmint.studio import find_studio_root, open_studio

    root = studio or find_studio_root(Path.cwd())
    found = inspect_file(file, trust_anchors(open_studio(root) if root else None, trust or []))
    if as_json:
        emit(found.to_json())
    else:
        colour = {"valid": "green", "invalid": "red", "none": "yellow"}[found.credentials]
        out.print(Text.assemble(f"{file}: credentials ", (found.credentials, colour), " (trusted signer)" if found.trusted else ""))
        if found.reason:
            out.print(f"  {found.reason}")
        if found.signer:
            out.print(f"  signed by {found.signer}; creator address {found.creator_address or '-'}\n  source: {found.digital_source_type or '-'}")
        if found.record:
            out.print(f"  {found.record.get('summary', '')}")


NetworkOpt = Annotated[Optional[str], typer.Option("--network", help="embedded (the studio's own chain) or a JSON-RPC URL (default: latentmint.toml's chain.network).", show_default=False)]


@app.command()
@verb
def mint(
    works: Annotated[list[str], typer.Argument(help="Certified work IDs (works/ID); `all` for every certified work not yet minted here.")],
    royalty: Annotated[Optional[str], typer.Option("--royalty", help="Royalty on every resale, e.g. 7.5% (default: chain.royalty, 7.5%).", show_default=False)] = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store each certified work and its metadata by CID and mint them as ERC-721 tokens (one transaction)."""
    from latentmint.art.works import list_works, load_work
    from latentmint.chain.mint import mint_works, parse_royalty, token_of
    from latentmint.chain.network import connect
    from latentmint.provenance.identity import load_identity, unlock
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    load_identity(opened)
    bps = parse_royalty(royalty) if royalty is not None else None
    net = connect(opened, network)
    chosen = [w for w in list_works(opened) if w.record.get("certificate") and token_of(w, net) is None] if works == ["all"] else [load_work(opened, w) for w in works]
    keys = unlock(opened, password())
    with progress_bar("mint", quiet=as_json and not err.is_terminal) as update:
        minted = mint_works(opened, net, keys, chosen, bps, update)
    if as_json:
        emit({"minted": [m.to_json() for m in minted]})
        return
    table = Table(title=f"{len(minted)} tokens on {net.name} (chain {net.chain_id})", highlight=False)
    for col in ("work", "token id", "token URI", "tx"):
        table.add_column(col, overflow="fold")
    for m in minted:
        note = " (already minted)" if m.already else " (recovered)" if m.recovered else " (minted again)" if m.reminted else ""
        table.add_row(m.work.id + note, hex(m.token_id), m.token_uri, m.tx)
    out.print(table)


@app.command()
@verb
def cid(
    file: Annotated[Path, typer.Argument(help="Any file.", exists=True, dir_okay=False)],
    studio: StudioOpt = None,  # accepted like every verb's; a CID needs no studio
    as_json: JsonOpt = False,
) -> None:
    """Print a file's CIDv1, exactly as `ipfs add --cid-version=1` would."""
    from latentmint.storage.cid import cid_of_file

    value = cid_of_file(file)
    emit({"cid": value, "file": str(file)}) if as_json else print(value)


def _token_id(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise LatentmintError(f"{text!r}: a token id is a number (decimal or 0x hex)") from None


@app.command()
@verb
def history(
    token: Annotated[str, typer.Argument(help="Token id (decimal or 0x hex: the sha256 of the certified file).")],
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A token's owner, creator, and its mint, every transfer and every sale with price and royalty."""
    from latentmint.chain.mint import history as token_history
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    doc = token_history(opened, connect(opened, network), _token_id(token))
    if as_json:
        emit(doc)
        return
    out.print(f"token {hex(doc['token_id'])}\ncollection {doc['collection']}\ncreator {doc['creator']}\nowner {doc['owner']}\nmetadata {doc['token_uri']}")
    table = Table(title="history")
    for col in ("event", "from", "to", "price (ETH)", "royalty (ETH)", "block", "tx"):
        table.add_column(col, overflow="fold")
    for e in doc["events"]:
        price = f"{e['price_wei'] / 1e18:g}" if "price_wei" in e else ""
        royalty = f"{e['royalty_wei'] / 1e18:g}" if "royalty_wei" in e else ""
        table.add_row(e["event"], e["from"], e["to"], price, royalty, str(e["block"]), e["tx"])
    out.print(table)


@app.command()
@verb
def verify(
    file: Annotated[Path, typer.Argument(help="Any image or animation file a collector holds.", exists=True, dir_okay=False)],
    collection: Annotated[Optional[list[str]], typer.Option("--collection", help="Also check this collection address (repeatable).", show_default=False)] = None,
    trust: Annotated[Optional[list[Path]], typer.Option("--trust", help="A root certificate (PEM) to trust for content credentials (repeatable).", show_default=False)] = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Is this file a minted original (AUTHENTIC), a COPY of one, TAMPERED since signing, or UNKNOWN?"""
    from latentmint.chain.network import connect
    from latentmint.provenance.certify import trust_anchors
    from latentmint.studio import open_studio
    from latentmint.verify import verify_file

    opened = open_studio(studio)
    found = verify_file(opened, connect(opened, network), file, trust_anchors(opened, trust or []), collection or [])
    if as_json:
        emit(found.to_json())
        return
    colour = {"AUTHENTIC": "green", "COPY": "yellow", "TAMPERED": "red", "UNKNOWN": "white"}[found.verdict]
    out.print(Text.assemble(f"{file}: ", (found.verdict, f"bold {colour}"), f" ({found.reason})"))
    if found.token_id is not None:
        out.print(f"  token {hex(found.token_id)} in {found.collection}\n  creator {found.creator}\n  owner {found.owner}")
    if found.mint_tx:
        out.print(f"  minted in {found.mint_tx}; {len(found.events)} ownership events (`latentmint history {found.token_id}`)")


AsOpt = Annotated[Optional[str], typer.Option("--as", help="Act as this studio account: artist (default) or a wallet from `latentmint wallet add`.", show_default=False)]
TokenArg = Annotated[str, typer.Argument(help="Token id (decimal or 0x hex: the sha256 of the certified file).")]
market_app = typer.Typer(help="Fixed-price sales with royalties: list, price, cancel, buy, show.", no_args_is_help=True)
app.add_typer(market_app, name="market")


def _chain_action(studio: Optional[Path], network: Optional[str], who: Optional[str], action: Callable[..., dict], *args: Any) -> dict:
    """Open the studio and network, unlock the acting account, run `action(studio, net, key, *args)`."""
    from latentmint.chain.market import account_key
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    net = connect(opened, network)
    return action(opened, net, account_key(opened, password(), who), *args)


def _print_doc(doc: dict, as_json: bool, line: str) -> None:
    if as_json:
        emit(doc)
    else:
        out.print(line)


@market_app.command("list")
@verb
def market_list(
    token: TokenArg,
    price: Annotated[str, typer.Option("--price", help="Price in ETH, e.g. 0.05.")],
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a token you own at a fixed price (approves the market to transfer it when sold)."""
    from latentmint.chain.market import list_token, parse_eth

    doc = _chain_action(studio, network, who, list_token, _token_id(token), parse_eth(price))
    _print_doc(doc, as_json, f"listed {hex(doc['token_id'])} at {price} ETH (tx {doc['tx']})")


@market_app.command("price")
@verb
def market_price(
    token: TokenArg,
    price: Annotated[str, typer.Option("--price", help="New price in ETH.")],
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change the price of a listed token."""
    from latentmint.chain.market import parse_eth, update_price

    doc = _chain_action(studio, network, who, update_price, _token_id(token), parse_eth(price))
    _print_doc(doc, as_json, f"{hex(doc['token_id'])} now at {price} ETH (tx {doc['tx']})")


@market_app.command("cancel")
@verb
def market_cancel(token: TokenArg, who: AsOpt = None, network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Take a token off the market."""
    from latentmint.chain.market import cancel_listing

    doc = _chain_action(studio, network, who, cancel_listing, _token_id(token))
    _print_doc(doc, as_json, f"cancelled the listing of {hex(doc['token_id'])} (tx {doc['tx']})")


@market_app.command("buy")
@verb
def market_buy(
    token: TokenArg,
    price: Annotated[Optional[str], typer.Option("--price", help="The price you agreed to, in ETH: refuse to buy at any other.", show_default=False)] = None,
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Buy a listed token at its price; the royalty goes to the creator, the rest to the seller."""
    from latentmint.chain.market import buy, parse_eth

    doc = _chain_action(studio, network, who, buy, _token_id(token), parse_eth(price) if price else None)
    _print_doc(doc, as_json, f"bought {hex(doc['token_id'])} for {doc['price_wei'] / 1e18:g} ETH; royalty {doc['royalty_wei'] / 1e18:g} ETH to {doc['royalty_receiver']} (tx {doc['tx']})")


@market_app.command("show")
@verb
def market_show(token: TokenArg, network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """A token's owner, live listing and royalty."""
    from latentmint.chain.market import show
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    doc = show(opened, connect(opened, network), _token_id(token))
    listing = f"listed by {doc['seller']} at {doc['price_eth']} ETH" if doc["listed"] else "not listed"
    _print_doc(doc, as_json, f"token {hex(doc['token_id'])}: owner {doc['owner']}; {listing}; royalty {doc['royalty_bps'] / 100:g}% to {doc['royalty_receiver']}")


@app.command()
@verb
def transfer(
    token: TokenArg,
    to: Annotated[str, typer.Argument(help="The receiving address (0x...) or the name of a studio wallet.")],
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a token you own to another address."""
    from latentmint.chain.market import transfer as give
    from latentmint.chain.market import wallet_addresses
    from latentmint.studio import open_studio

    address = to if to.startswith("0x") else wallet_addresses(open_studio(studio)).get(to, to)
    doc = _chain_action(studio, network, who, give, _token_id(token), address)
    _print_doc(doc, as_json, f"{hex(doc['token_id'])} -> {doc['to']} (tx {doc['tx']})")


wallet_app = typer.Typer(help="The studio's accounts: balances, test ETH on the embedded chain, extra local accounts.", no_args_is_help=True)
app.add_typer(wallet_app, name="wallet")


@wallet_app.command("show")
@verb
def wallet_show(network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Every studio account's address, ETH, tokens held and market credits."""
    from latentmint.chain.market import balances
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    net = connect(opened, network)
    doc = balances(opened, net)
    if as_json:
        emit(doc)
        return
    table = Table(title=f"accounts on {net.name} (chain {net.chain_id})")
    for col in ("name", "address", "ETH", "tokens", "credits (wei)"):
        table.add_column(col, overflow="fold")
    for name, a in doc.items():
        table.add_row(name, a["address"], a["eth"], str(a["tokens"]), str(a["credits_wei"]))
    out.print(table)


@wallet_app.command("fund")
@verb
def wallet_fund(
    name: Annotated[str, typer.Argument(help="artist or a wallet name.")] = "artist",
    eth: Annotated[str, typer.Option("--eth", help="How much test ETH.")] = "100",
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send test ETH from the embedded chain's faucet (local mode only)."""
    from latentmint.chain.market import fund_wallet
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    address = fund_wallet(opened, connect(opened, network), name, eth)
    _print_doc({"name": name, "address": address, "eth": eth}, as_json, f"{name} ({address}) +{eth} ETH")


@wallet_app.command("add")
@verb
def wallet_add(name: Annotated[str, typer.Argument(help="A name for the account, e.g. collector.")], studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Create another local account (encrypted with the studio password), e.g. a collector to try buying."""
    from latentmint.chain.market import add_wallet
    from latentmint.studio import open_studio

    address = add_wallet(open_studio(studio), name, password(confirm=True))
    _print_doc({"name": name, "address": address}, as_json, f"wallet {name}: {address}")


royalty_app = typer.Typer(help="Share royalties with the people whose photos trained the model.", no_args_is_help=True)
app.add_typer(royalty_app, name="royalty")


@royalty_app.command("split")
@verb
def royalty_split(
    credits: Annotated[str, typer.Option("--credits", help="The photographers' part of every royalty, e.g. 30% (shared by their photo counts).")],
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset whose credits name the payees (default: the one the minted works came from).", show_default=False)] = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy a royalty splitter (artist + credited photographers with an eth_address) and make it the royalty receiver."""
    from latentmint.art.works import list_works
    from latentmint.chain.market import account_key
    from latentmint.chain.network import connect
    from latentmint.chain.royalty import create_split
    from latentmint.provenance.identity import load_identity
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    name = dataset or next((w.record["model"]["dataset"] for w in list_works(opened) if w.record.get("tokens")), None)
    if name is None:
        raise LatentmintError("no minted works yet: pass --dataset NAME")
    try:
        share = float(credits.strip().removesuffix("%")) / 100
    except ValueError:
        raise LatentmintError(f"{credits!r}: a share is a percentage, e.g. 30%") from None
    net = connect(opened, network)
    doc = create_split(opened, net, account_key(opened, password()), load_identity(opened).address, name, share)
    if as_json:
        emit(doc)
        return
    out.print(f"royalties ({doc['royalty_bps'] / 100:g}%) now go to {doc['splitter']}:")
    for p in doc["payees"]:
        out.print(f"  {p['address']}  {p['share']:.2%}")


@royalty_app.command("release")
@verb
def royalty_release(
    payee: Annotated[str, typer.Argument(help="Payee address, or a studio account name (artist, a wallet).")] = "artist",
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a payee their share of the royalties collected so far (anyone may trigger it; the payee is paid)."""
    from latentmint.chain.market import wallet_addresses
    from latentmint.chain.royalty import release
    from latentmint.studio import open_studio

    address = wallet_addresses(open_studio(studio)).get(payee, payee)
    doc = _chain_action(studio, network, who, release, address)
    _print_doc(doc, as_json, f"{doc['payee']} received {doc['wei'] / 1e18:g} ETH (tx {doc['tx']})")


@app.command()
@verb
def doctor(
    repair_chain: Annotated[bool, typer.Option("--repair-chain", help="Keep the valid blocks of a damaged chain.log (a copy of the damaged file is kept), then check.")] = False,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List every disagreement between work.json records, the chain and the store (exit 1 when there is any)."""
    from latentmint.doctor import check_studio
    from latentmint.doctor import repair_chain as repair
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    repaired = repair(opened) if repair_chain else None
    findings = check_studio(opened, network)
    if as_json:
        emit({"repair": repaired, "findings": [f.to_json() for f in findings]})
    else:
        if repaired:
            r = repaired
            said = r.get("reason") or f"kept {r['batches_kept']} blocks ({r['kept_bytes']} bytes), dropped {r['dropped_bytes']} bytes; the damaged file is kept as {r['copy']}"
            out.print(Text(f"repair: {said}"))
        if not findings:
            out.print(Text("studio records, chain and store agree", style="green"))
        table = Table("where", "problem", "fix", title=f"{len(findings)} disagreements", show_lines=True)
        for f in findings:
            table.add_row(Text(f.where), Text(f.problem), Text(f.fix))
        if findings:
            out.print(table)
    if findings:
        raise typer.Exit(1)


@app.command()
@verb
def serve(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to bind; the default keeps the gallery on this machine. Any other address serves it read-only.")] = "127.0.0.1",
    allow_trading_from_network: Annotated[bool, typer.Option("--allow-trading-from-network", help="With --host: let other machines' browsers trade with the studio's unlocked accounts.")] = False,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The gallery: works, certificates, training runs, and a page that verifies any file (Ctrl-C stops)."""
    from latentmint.studio import open_studio
    from latentmint.web.app import LOOPBACK
    from latentmint.web.app import serve as run_server

    opened = open_studio(studio)
    if host not in LOOPBACK:
        if allow_trading_from_network:
            err.print(Text(f"warning: anyone who can reach {host}:{port} can trade with this studio's unlocked accounts; use this only on a network you trust", style="bold yellow"))
        else:
            err.print(Text(f"serving {host}:{port} read-only: trading needs the loopback address or --allow-trading-from-network", style="yellow"))
    if as_json:
        emit({"url": f"http://{host}:{port}/", "studio": str(opened.root)})
    else:
        err.print(Text.assemble("gallery of ", str(opened.root), " at ", (f"http://{host}:{port}/", "bold"), " (Ctrl-C stops)"))
    run_server(opened, host, port, network, allow_trading_from_network)


@app.command()
@verb
def demo(
    photos: Annotated[Optional[Path], typer.Option(help="Folder of photos (default: ../shared/datasets/london when present).", show_default=False)] = None,
    studio: Annotated[Path, typer.Option("--studio", help="Studio folder for the demo (created, or resumed when it exists).")] = Path("demo-studio"),
    train_time: Annotated[str, typer.Option("--train-time", help="How long to train the 64 px model, e.g. 4m.")] = "4m",
    as_json: JsonOpt = False,
) -> None:
    """The main job end to end on a demo studio: photos to a trained model, certified works, tokens, a sale, verified files."""
    from contextlib import ExitStack

    from latentmint.chain.mint import token_of
    from latentmint.demo import run_demo
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
        works = [{**_work_json(w), "seed": w.record["generation"]["seed"]} for w in result.works]
        certified = [{"work": w.id, "file": str(w.root / w.record["certificate"]["file"])} for w in result.certified]
        tokens = [{"work": w.id, **{k: t[k] for k in ("token_id", "tx", "token_uri", "image_cid")}} for w in result.certified if (t := token_of(w, result.network))]
        verified = [{"file": str(f), **v.to_json()} for f, v in result.verified]
        emit({"studio": str(result.studio.root), "ingest": result.ingest.to_json(), "train": trained, "works": works, "walk": _work_json(result.walk), "certified": certified, "tokens": tokens, "sale": result.sale, "verified": verified})
        return
    print_ingest_report(result.ingest)
    out.print(_works_table(f"{len(result.works)} works and a walk", [*result.works, result.walk]))
    table = Table(title="demo summary")
    table.add_column("what")
    table.add_column("where", overflow="fold")
    table.add_row("studio", str(result.studio.root))
    table.add_row("dataset", str(result.ingest.dataset))
    run = result.studio.runs / "demo-64"
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


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `latentmint ... | head` is fine
        sys.stderr.close()


if __name__ == "__main__":
    main()
