"""What a run leaves for people and scripts: run.json, metrics.csv, TensorBoard events, sample grids,
metric evaluations and the loss-curve PNG, all under runs/NAME/."""

from __future__ import annotations

import csv
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from latentmint import __version__
from latentmint.data.dataset import now_iso
from latentmint.files import atomic_write_bytes, atomic_write_json
from latentmint.gan.data import to_uint8
from latentmint.images import grid, png_bytes, pyplot, save_figure

FIELDS = ["step", "time", "loss_d", "loss_g", "loss_rec", "logits_real", "p", "rt", "images_per_s", "seconds_per_step", "loss_l1", "loss_perceptual", "swd_train", "fid_train", "kid_train"]
LOG_EVERY = 10


def logged(step: int) -> bool:
    """Whether step `step` writes a row of metrics.csv (and the training loop reads its losses)."""
    return step == 1 or step % LOG_EVERY == 0


def code_version() -> dict[str, str | None]:
    """latentmint's version, and the git commit when running from a checkout."""
    commit = None
    try:
        here = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"latentmint": __version__, "git_commit": commit, "torch": torch.__version__, "python": platform.python_version()}


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor, as its model name, family/model numbers and widest vector units (Linux reports them only in
    /proc/cpuinfo; virtual machines often hide the model behind "AMD EPYC"). Step times differ several-fold between
    CPUs sold under one name, so run.json and benchmark results say which one ran."""
    try:
        first_cpu = cpuinfo.read_text().split("\n\n")[0]
    except OSError:
        return platform.processor() or platform.machine()
    fields = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in first_cpu.splitlines() if ":" in line)}
    flags = set(fields.get("flags", "").split())
    units = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX")) if flag in flags]
    return f"{fields.get('model name', platform.machine())} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}; {', '.join(units) or 'no AVX2'})"


def device_info(device: torch.device, world: int, bf16: bool) -> dict[str, Any]:
    info: dict[str, Any] = {"type": device.type, "processes": world, "precision": "bfloat16 autocast" if bf16 else "float32"}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    else:
        info.update(name=cpu_name(), threads=torch.get_num_threads())
    return info


class RunLog:
    def __init__(self, root: Path, main: bool = True) -> None:
        self.root = root
        self.main = main
        self._tb = None
        if main:
            (root / "samples").mkdir(parents=True, exist_ok=True)
            (root / "checkpoints").mkdir(parents=True, exist_ok=True)

    # run.json -------------------------------------------------------------------------------------

    def write_run_json(self, *, name: str, dataset, config, changed, device, transferred, init_from, status: str, step: int) -> None:
        path = self.root / "run.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        doc = {
            "format": "latentmint.run/1",
            "name": name,
            "created": previous.get("created", now_iso()),
            "status": status,
            "step": step,
            "dataset": {"name": dataset.name, "path": str(dataset.root), "hash": dataset.content_hash(), "faces": len(dataset.faces), "resolution": dataset.resolution},
            "config": config.to_json(),
            "changed_from_preset": changed,
            "pretrained": pretrained_networks(config),
            "init_from": init_from or previous.get("init_from"),
            "transferred_tensors": transferred or previous.get("transferred_tensors"),
            "code": code_version(),
            "device": device_info(device.device, device.world, device.bf16),
            "sessions": previous.get("sessions", []) + [{"started": now_iso(), "from_step": step}],
            "checkpoint": "checkpoints/latest.pt",
        }
        atomic_write_json(path, doc)

    def finish(self, *, status: str, step: int, seconds_per_step: float, stopped_by: str, stages: list[dict] | None = None) -> None:
        path = self.root / "run.json"
        doc = json.loads(path.read_text())
        doc.update(status=status, step=step, finished=now_iso(), stopped_by=stopped_by)
        if stages and len(stages) > 1:
            doc["stages"] = stages
        doc["sessions"][-1].update(to_step=step, seconds_per_step=round(seconds_per_step, 4) if seconds_per_step == seconds_per_step else None)
        atomic_write_json(path, doc)
        self.close()
        self.loss_curve()

    # scalars --------------------------------------------------------------------------------------

    def _writer(self):
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.root / "tensorboard"))
        return self._tb

    def _csv_row(self, step: int, values: dict[str, Any]) -> None:
        path = self.root / "metrics.csv"
        new = not path.exists()
        with open(path, "a", newline="") as f:  # appended row by row: a crash loses at most one row
            writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({"step": step, "time": now_iso(), **{k: f"{v:.6g}" for k, v in values.items() if isinstance(v, (int, float))}})

    def scalars(self, step: int, stats: dict[str, float]) -> None:
        if not logged(step):
            return
        self._csv_row(step, stats)
        tb = self._writer()
        for key, value in stats.items():
            tb.add_scalar(f"train/{key}", value, step)

    def metric(self, step: int, values: dict[str, float | None]) -> None:
        self._csv_row(step, values)
        path = self.root / "evaluations.jsonl"
        with open(path, "a") as f:
            f.write(json.dumps({"step": step, "time": now_iso(), **values}) + "\n")
        tb = self._writer()
        for key, value in values.items():
            if isinstance(value, (int, float)):
                tb.add_scalar(f"metrics/{key}", value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    # images ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample_grid(self, step: int, G_ema: torch.nn.Module, fixed_z: torch.Tensor) -> Path:
        """samples/step-N.png; a cascade's final samples are step-N-<R>px.png, 12 of them at full size."""
        full = hasattr(G_ema, "upscaler")  # a cascade: its point is the detail, so show it at full size
        fixed_z = fixed_z[:12] if full else fixed_z
        with torch.random.fork_rng(devices=[fixed_z.device] if fixed_z.device.type == "cuda" else []):
            torch.manual_seed(0)  # the noise inputs too: the same seeds show the same faces every time
            images = to_uint8(G_ema(fixed_z))
        tiles = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
        cell = images.shape[-1] if full else max(64, min(images.shape[-1], 128))
        path = self.root / "samples" / (f"step-{step:06d}-{images.shape[-1]}px.png" if full else f"step-{step:06d}.png")
        atomic_write_bytes(path, png_bytes(grid(tiles, cell, columns=6)))
        self._writer().add_images("samples", images[:16].float() / 255.0, step)
        return path

    def evaluate(self, step: int, G_ema: torch.nn.Module, images: torch.Tensor, config, inception=None) -> dict[str, float | None]:
        """SWD against the training faces, and FID/KID, precision and recall when an Inception network is given.
        Precision and recall go to evaluations.jsonl and TensorBoard, not metrics.csv, whose columns stay fixed
        so that a run resumed by another version appends rows its header still names."""
        from latentmint.metrics.evaluate import generate_uint8
        from latentmint.metrics.fid import scores_from_features
        from latentmint.metrics.swd import swd

        n = min(config.eval_samples, images.shape[0])
        fake = generate_uint8(G_ema, n, seed=config.seed + 999, batch=64)
        real = images[torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(0))[:n]]
        values: dict[str, float | None] = {"swd_train": round(swd(real, fake)["swd"], 3), "samples": n}
        if inception is not None:
            scores = scores_from_features(inception.features_of(real), inception.features_of(fake))
            values.update(fid_train=round(scores["fid"], 3), kid_train=round(scores["kid"], 5))
            if scores["recall"] is not None:  # recall is the faces' variety, which FID and KID mix with their fidelity
                values.update(precision_train=round(scores["precision"], 3), recall_train=round(scores["recall"], 3))
        self.metric(step, values)
        return values

    def loss_curve(self) -> Path | None:
        """loss.png: the generator stage's losses and augmentation p over the steps, and a cascade's upscaler losses."""
        path = self.root / "metrics.csv"
        if not path.exists():
            return None
        with open(path) as f:
            rows = list(csv.DictReader(f))
        gan = [r for r in rows if r.get("p")]  # the generator stage (evaluation rows hold metrics only)
        upscaler = [r for r in rows if r.get("loss_l1")]  # a cascade's second stage
        panels = [(name, height) for name, height, present in (("loss", 3, gan), ("augment p", 1, gan), ("upscaler loss", 2, upscaler)) if present]
        if not panels:
            return None
        plt = pyplot()
        fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2 + 2 * len(panels)), squeeze=False, gridspec_kw={"height_ratios": [h for _, h in panels]})
        ax = {name: axis for (name, _), axis in zip(panels, axes[:, 0])}
        if gan:
            _plot(ax["loss"], gan, {"loss_d": "discriminator", "loss_g": "generator", "loss_rec": "reconstruction"})
            ax["augment p"].plot([int(r["step"]) for r in gan], [float(r["p"]) for r in gan], color="tab:purple", linewidth=1)
        if upscaler:
            _plot(ax["upscaler loss"], upscaler, {"loss_l1": "L1", "loss_perceptual": "perceptual"})
            ax["upscaler loss"].set_yscale("log")  # L1 and the perceptual loss differ by orders of magnitude
        for name, axis in ax.items():
            axis.set_ylabel(name)
            axis.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("step")
        fig.suptitle(self.root.name)
        return save_figure(fig, self.root / "loss.png")


def _plot(axis, rows: list[dict], series: dict[str, str]) -> None:
    """One line per metrics.csv column that has non-zero values; a legend when the lines have labels."""
    for key, label in series.items():
        points = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
        if any(v for _, v in points):
            axis.plot(*zip(*points), label=label, linewidth=1)
    if any(line.get_label() for line in axis.lines):
        axis.legend()


def pretrained_networks(config) -> list[dict]:
    """Every pretrained network the training used (name, version, licence, sha256): run.json and certificates name them."""
    from latentmint.gan.projected import describe_backbone

    used = []
    if "projected" in getattr(config, "discriminator", "own"):
        used.append({**describe_backbone(), "role": "discriminator features (frozen)"})
    if getattr(config, "upscale_from", 0) and getattr(config, "upscale_perceptual", 0):
        used.append({**describe_backbone(), "role": "the upscaler's perceptual loss (frozen features)"})
    return used
