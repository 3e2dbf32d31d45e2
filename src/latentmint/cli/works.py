"""Works from a model: generate, walk, mix, select, originality."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from latentmint.cli.common import app, emit, err, JsonOpt, out, progress_bar, StudioOpt, verb


def work_json(work: Any) -> dict[str, Any]:
    o = work.record.get("originality", {})
    return {"id": work.id, "path": str(work.file), "near_copy": o.get("near_copy"), "lookalike": o.get("lookalike"), "identity_distance": o.get("identity_distance")}


def works_table(title: str, works: list[Any]) -> Table:
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
        emit({"works": [{**work_json(w), "seed": w.record["generation"]["seed"]} for w in works], **({"grid": str(sheet)} if sheet else {})})
        return
    out.print(works_table(f"{len(works)} works from {run}", works))
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
    out.print(works_table("walk", [work]))


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
        emit({"work": work_json(work)})
        return
    out.print(works_table("mix", [work]))


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
