"""The training loop: `train(studio, dataset, run, config)` -> a run folder with checkpoints and logs.

One step = one discriminator update (hinge loss on augmented real and fake images, plus the
reconstruction loss on real ones) and one generator update, then the EMA generator follows.
Everything random is drawn from generators whose state the checkpoint keeps, so `--resume` continues
exactly where a killed run stopped. A cascade (`upscale_from`) has a second stage: once the generator
is done, an upscaler learns to take its faces to the final size (gan/upscale.py); the time budget is
split between the stages and a run resumes in whichever stage it stopped. Under torchrun each process trains on its share of the batch and
gradients are averaged across processes (data parallel).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentmint.data.dataset import Dataset, dataset_dir
from latentmint.errors import LatentmintError
from latentmint.gan.augment import TRANSFORMS, AdaptiveP, diff_augment, random_flip
from latentmint.gan.checkpoint import RESUME_KEYS, load_checkpoint, save_checkpoint
from latentmint.gan.config import TrainConfig, changed_from_preset
from latentmint.gan.data import check_resolution, load_faces, to_float, to_uint8
from latentmint.gan.instance import InstanceDiscrimination
from latentmint.gan.networks import build, power_iterate, recalibrate_batchnorm, reconstruction_targets
from latentmint.gan.runlog import RunLog, logged
from latentmint.gan.upscale import Cascade
from latentmint.studio import Studio

R1_EVERY = 16  # lazy R1: one step in 16 pays for the double backward (+1.5% a step on average)

Progress = Callable[[int, int, dict[str, Any]], None]  # (step, total, stats incl. "stage")


@dataclass
class TrainResult:
    run: Path
    steps: int
    seconds_per_step: float
    checkpoint: Path
    device: str
    stopped_by: str  # steps | time_budget
    resolution: int = 64
    stages: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # {name, resolution, steps, seconds}

    def to_json(self) -> dict[str, Any]:
        doc = {"run": str(self.run), "steps": self.steps, "seconds_per_step": round(self.seconds_per_step, 4), "checkpoint": str(self.checkpoint), "device": self.device, "resolution": self.resolution}
        return {**doc, "stages": self.stages} if len(self.stages) > 1 else doc


@dataclass
class Dist:
    """Where this process sits in a torchrun job (world 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    bf16: bool = False  # train under bfloat16 autocast
    clock_group: Any = None  # the process group that shares rank 0's clock (gloo: CPU tensors, no GPU sync)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def agreed(self, seconds: float) -> float:
        """Rank 0's `seconds` on every rank. What the clock decides (stopping at the time budget, the learning
        rate's decay) must be decided alike everywhere: the processes start their clocks seconds apart, and one
        that stopped alone would leave the others waiting for its gradients forever."""
        if self.world == 1:
            return seconds
        import torch.distributed as tdist

        value = torch.tensor([seconds], dtype=torch.float64)
        tdist.broadcast(value, 0, group=self.clock_group)
        return float(value)


def _setup_device(config: TrainConfig) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want = config.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise LatentmintError("--device cuda: no CUDA GPU is visible to PyTorch")
    rank, device, clock_group = 0, torch.device(want), None
    if world > 1:
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        if want.startswith("cuda"):
            torch.cuda.set_device(local)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if want.startswith("cuda") else "gloo")
        rank, device = dist.get_rank(), torch.device(f"cuda:{local}") if want.startswith("cuda") else torch.device("cpu")
        clock_group = dist.new_group(backend="gloo") if want.startswith("cuda") else None  # None: the default group, gloo
    elif want == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)  # every core, not PyTorch's guess of physical ones
    return Dist(rank, world, device, config.amp and bf16_native(device), clock_group)


def bf16_native(device: torch.device) -> bool:
    """Whether bfloat16 math is native here: CUDA, or a CPU with AVX512-BF16 or AMX (where oneDNN runs
    bf16 convolutions at about 1.5x fp32's speed). Elsewhere bf16 would be emulated, and slower."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _ema_update(ema: nn.Module, model: nn.Module, beta: float) -> None:
    with torch.no_grad():  # foreach: on a GPU one launch per group of tensors, not one per tensor
        torch._foreach_lerp_(list(ema.parameters()), [p.detach() for p in model.parameters()], 1.0 - beta)
        torch._foreach_copy_(list(ema.buffers()), list(model.buffers()))


def _freeze_early_d(D: nn.Module, blocks: int) -> None:
    D = getattr(D, "own", D)  # a PairedDiscriminator: its own judge's blocks (the projected backbone is frozen anyway)
    layers = [getattr(D, "stem", None), *getattr(D, "downs", [])]
    for layer in [m for m in layers if m is not None][:blocks]:
        for p in layer.parameters():
            p.requires_grad_(False)


def _init_from(G: nn.Module, D: nn.Module, G_ema: nn.Module, path: Path) -> dict[str, int]:
    """Copy every tensor whose name and shape match from another run's checkpoint (transfer learning).

    Refuses a checkpoint that would leave most of the generator untouched: that is not a compatible model.
    """
    state = load_checkpoint(path)
    copied = {}
    for name, model in (("G", G), ("D", D), ("G_ema", G_ema)):
        ours = model.state_dict()
        theirs = state.get(name, {})
        match = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
        if name == "G":
            share = sum(v.numel() for v in match.values()) / max(sum(v.numel() for v in ours.values()), 1)
            if share < 0.5:
                raise LatentmintError(f"{path}: no generator weights fit this configuration ({share:.0%} match: different architecture or widths)")
        ours.update(match)
        model.load_state_dict(ours)
        copied[name] = len(match)
    return copied


def run_dir(studio: Studio, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise LatentmintError(f"{name!r}: a run name must be a plain folder name")
    return studio.runs / name


def train(
    studio: Studio,
    dataset_name: str | None,
    run_name: str,
    config: TrainConfig | None,
    *,
    resume: bool = False,
    resume_changes: dict[str, Any] | None = None,
    init_from: Path | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train the run `runs/<run_name>` on `datasets/<dataset_name>`, or with `resume`, continue it
    (its saved config then applies, with `resume_changes` limited to steps, time budget and device)."""
    root = run_dir(studio, run_name)
    ckpt_path = root / "checkpoints" / "latest.pt"
    state: dict[str, Any] | None = None
    if resume:
        state = load_checkpoint(ckpt_path, required=RESUME_KEYS)
        # The run continues with its own config; only how long and where it runs may change.
        allowed = {"steps", "upscale_steps", "time_budget_s", "device", "ckpt_every", "sample_every", "eval_every"}
        changes = {k: v for k, v in (resume_changes or {}).items() if k in allowed}
        config = dataclasses.replace(TrainConfig.from_json(state["config"]), **changes)
        dataset_name = state["dataset"]["name"]
    elif ckpt_path.exists():
        raise LatentmintError(f"{root}: run exists; continue it with --resume or choose another --name")
    if config is None:
        raise LatentmintError("no training config given")
    if not dataset_name:
        raise LatentmintError("no dataset given: latentmint train DATASET --name RUN")
    if not config.resolution_ok:
        raise LatentmintError(f"resolution {config.resolution}: choose 64, 128, 256, 512 or 1024")
    if unknown := [name for name in config.augment if name not in TRANSFORMS]:
        raise LatentmintError(f"augment: unknown transform {', '.join(map(repr, unknown))}; choose from {', '.join(TRANSFORMS)}")
    if config.instance_weight and not config.instance_discrimination_fits:
        raise LatentmintError("instance_weight: instance discrimination reads FastGAN's own discriminator (arch fastgan, discriminator own)")
    dataset = Dataset.load(dataset_dir(studio.datasets, dataset_name))
    if state is not None and state["dataset"]["hash"] != dataset.content_hash():
        raise LatentmintError(f"{dataset.json_path}: the dataset changed since this run started; train a new run on it")

    dist = _setup_device(config)
    cuda = dist.device.type == "cuda"
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    check_resolution(dataset, config.resolution)  # before training, not when a cascade reaches its last stage
    images = load_faces(dataset, config.generator_resolution)

    torch.manual_seed(config.seed)  # every process starts from the same weights
    G, D = build(config.arch, config.generator_resolution, config.z_dim, config.ngf, config.ndf, config.discriminator, config.projected_weight, config.projected_view)
    instance = InstanceDiscrimination(D, images.shape[0], config.batch) if config.instance_weight else None
    torch.manual_seed(config.seed + dist.rank)  # ... and draws its own latents and augmentations
    G, D = G.to(dist.device, memory_format=fmt), D.to(dist.device, memory_format=fmt)
    if instance is not None:
        instance = instance.to(dist.device, memory_format=fmt)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=config.betas)
    # The contrastive heads belong to the discriminator's side: its optimiser, its rate and its decay.
    opt_d = torch.optim.Adam([*D.parameters(), *(instance.head_parameters() if instance else [])], lr=config.lr_d, betas=config.betas)
    ada = AdaptiveP(p=config.ada_start_p if config.augment else 0.0, target=config.ada_target, speed_images=config.ada_speed_images)
    data_gen = torch.Generator().manual_seed(config.seed * 7919 + dist.rank)
    step, elapsed_before = 0, 0.0
    transferred = None
    stage = state.get("stage", "generator") if state is not None else "generator"
    generator_seconds = float(state.get("generator_seconds", 0.0)) if state is not None else 0.0
    # When the upscaler began training, after its setup (runs checkpointed before this was kept: the generator's end)
    upscaler_began = float(state.get("upscaler_began", generator_seconds)) if state is not None and state.get("stage") == "upscaler" else 0.0
    upscaler: Upscaling | None = None
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        G_ema.load_state_dict(state["G_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        ada.load_state_dict(state["ada"])
        if instance is not None:
            instance.load_state_dict(state["instance"])
        step, elapsed_before = int(state["step"]), float(state["elapsed"])
        _restore_rng(state["rng"], data_gen, cuda)
        if dist.world > 1:  # the checkpoint holds rank 0's generators; the others branch off from it
            torch.manual_seed(config.seed + dist.rank + 1_000_003 * step)
            data_gen.manual_seed(config.seed * 7919 + dist.rank + 1_000_003 * step)
    elif init_from is not None:
        transferred = _init_from(G, D, G_ema, Path(init_from))
    if config.freeze_d:
        _freeze_early_d(D, config.freeze_d)

    G_train, D_train = G, D
    if config.compile:
        G_train, D_train = torch.compile(G_train), torch.compile(D_train)
    autocast = torch.autocast(dist.device.type, dtype=torch.bfloat16, enabled=dist.bf16)
    local_batch = max(config.batch // dist.world, 1)

    log = RunLog(root, main=dist.main)
    inception = _inception(studio, dist.device) if dist.main else None
    if dist.main:
        log.write_run_json(
            name=run_name, dataset=dataset, config=config, changed=changed_from_preset(config), device=dist, transferred=transferred,
            init_from=str(init_from) if init_from else None, status="running", step=step,
        )
    fixed_z = torch.randn(config.sample_seeds, config.z_dim, generator=torch.Generator().manual_seed(config.seed + 12345)).to(dist.device)

    def elapsed() -> float:
        """Training time of the whole run, over every session: the time budget is the run's, not a session's."""
        return elapsed_before + (time.monotonic() - started)

    def checkpoint() -> None:
        if not dist.main:
            return
        save_checkpoint(
            ckpt_path,
            {
                "step": step, "elapsed": elapsed(), "stage": stage, "generator_seconds": generator_seconds, "upscaler_began": upscaler_began,
                "config": config.to_json(), "dataset": {"name": dataset.name, "hash": dataset.content_hash()},
                "G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "ada": ada.state_dict(),
                "rng": _capture_rng(data_gen, cuda), **(upscaler.state_dict() if upscaler else {}),
                **({"instance": instance.state_dict()} if instance else {}),
            },
        )  # fmt: skip

    # In a cascade the generator stops at its share of the budget; the upscaler gets the rest.
    generator_budget = config.time_budget_s * (1 - config.upscale_share) if config.upscale_from else config.time_budget_s
    started = time.monotonic()
    timer = StepTimer(dist.device)
    stopped_by = "steps"
    try:
        while stage == "generator" and step < config.steps:
            now = dist.agreed(elapsed()) if generator_budget else 0.0
            if generator_budget and now >= generator_budget:
                stopped_by = "time_budget"
                break
            timer.start()
            if config.lr_decay:
                scale = lr_scale(config.lr_decay, max(step / config.steps, now / generator_budget if generator_budget else 0.0))
                for opt, base in ((opt_g, config.lr_g), (opt_d, config.lr_d)):
                    for group in opt.param_groups:
                        group["lr"] = base * scale
            idx = torch.randint(0, images.shape[0], (local_batch,), generator=data_gen)
            real = _on_device(images[idx], dist.device)
            if config.xflip:
                real = random_flip(real, data_gen)
            real = real.contiguous(memory_format=fmt)
            losses = _train_step(G_train, D_train, G, D, opt_g, opt_d, real, config, ada, autocast, dist, instance)
            if config.augment:  # without augmentation there is no strength to adapt
                ada.step(config.batch)
            # Ramp the EMA up (as TensorFlow's num_updates and StyleGAN's ema_rampup do): early on, a
            # 0.999 average would still be mostly the random initial weights.
            _ema_update(G_ema, G, min(config.ema_beta, (1 + step) / (10 + step)))
            step += 1
            read = timer.stop(step, losses)
            stats = {**timer.readings, "p": ada.p, "rt": ada.rt, "images_per_s": config.batch / timer.times[-1], "seconds_per_step": timer.times[-1]}
            if read and dist.main:
                log.scalars(step, stats)
            if dist.main and (step % config.sample_every == 0 or step == config.steps):
                log.sample_grid(step, G_ema, fixed_z)
            if config.eval_every and step % config.eval_every == 0 and dist.main:
                log.evaluate(step, G_ema, images, config, inception)
            if step % config.ckpt_every == 0:
                checkpoint()
            if progress and dist.main:
                progress(step, _bar_total(step, config.steps, generator_budget - elapsed() if generator_budget else None, timer.times), {**stats, "stage": _stage_label(config, "generator")})
        timer.flush()
        if stage == "generator":  # the works come from G_ema: its statistics must be its own (a second pass changes nothing)
            recalibrate_batchnorm(G_ema, seed=config.seed)
        if stage == "generator" and config.upscale_from:
            generator_seconds, stage = elapsed(), "upscaler"
            if dist.main:
                log.sample_grid(step, G_ema, fixed_z)
        if stage == "upscaler" and dist.main:
            upscaler = Upscaling(config, dataset, images, G_ema, dist.device, state if state is not None and "U" in state else None)
            upscaler_began = upscaler_began or elapsed()
            checkpoint()  # the stage boundary: a rerun continues from here, bit for bit
            # The upscaler always gets its share to train in: a generator that ran late (its last step, its batch-norm
            # pass) and the upscaler's own setup (the photos at full size, the fitted filter and colours; seconds, more
            # on a busy machine) move the end by that much rather than leave the works a bicubic upscale.
            deadline = max(config.time_budget_s, upscaler_began + config.time_budget_s * config.upscale_share) if config.time_budget_s else 0.0
            stopped_by = upscaler.run(config, deadline, elapsed, checkpoint, log, step, progress, autocast)
    except KeyboardInterrupt:
        checkpoint()
        if dist.main:
            log.finish(status="interrupted", step=step, seconds_per_step=_median(timer.times), stopped_by="interrupt")
        raise
    checkpoint()
    stages = [{"name": "generator", "resolution": config.generator_resolution, "steps": step, "seconds": round(generator_seconds or elapsed(), 1)}]
    if dist.main:
        final, final_images = G_ema, images
        if upscaler is not None:
            final, final_images = Cascade(G_ema, upscaler.U.eval()), upscaler.big
            stages.append({"name": "upscaler", "resolution": config.resolution, "steps": upscaler.step, "seconds": round(elapsed() - generator_seconds, 1)})
        if step % config.sample_every or upscaler is not None:
            log.sample_grid(step, final, fixed_z)
        log.evaluate(step, final, final_images, config, inception)
        log.finish(status="completed", step=step, seconds_per_step=_median(timer.times), stopped_by=stopped_by, stages=stages)
    return TrainResult(root, step, _median(timer.times), ckpt_path, dist.device.type, stopped_by, config.resolution, stages)


class StepTimer:
    """Step times and loss readings that wait for the device once every LOG_EVERY steps, not every step.

    On a GPU, reading a loss (`float(tensor)`) or timing a step (`synchronize`) stalls the host until the queue
    drains, so no kernels of the next step are queued while the last ones run. The loops read both on logged
    steps only (and the first), and a step's time is its window's mean. On a CPU it changes nothing.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: list[float] = []  # seconds per step, one entry per step read so far
        self.readings: dict[str, float] = {}  # the losses of the last step read
        self._busy, self._steps, self._t0 = 0.0, 0, 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self, step: int, losses: dict[str, torch.Tensor]) -> bool:
        """End a step; on a step to read (True), `readings` and `times` are brought up to date."""
        read = logged(step) or not self.times
        if read:
            self._sync()
            self.readings = {k: float(v) for k, v in losses.items()}
        self._busy += time.perf_counter() - self._t0
        self._steps += 1
        if read:
            self._close_window()
        return read

    def flush(self) -> None:
        """Count the steps since the last reading (at the end of a loop)."""
        if self._steps:
            t = time.perf_counter()
            self._sync()  # what the device still had queued belongs to those steps
            self._busy += time.perf_counter() - t
            self._close_window()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _close_window(self) -> None:
        self.times.extend([self._busy / self._steps] * self._steps)
        self._busy, self._steps = 0.0, 0


def _on_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A uint8 batch as floats in [-1, 1] on `device`. To a GPU it goes as uint8 (a quarter of the bytes) from
    pinned memory: a copy from ordinary memory would wait for the GPU's queue to reach it."""
    if device.type == "cuda":
        batch = batch.pin_memory().to(device, non_blocking=True)
    return to_float(batch)


def lr_scale(decay: float, progress: float) -> float:
    """The learning rate's factor at `progress` (0..1) through the run: 1, then linearly to 0 over the last `decay`."""
    return min(1.0, max(0.0, (1.0 - progress) / decay))


def _stage_label(config: TrainConfig, stage: str) -> str:
    if not config.upscale_from:
        return f"{config.resolution} px"
    if stage == "generator":
        return f"1/2 faces {config.generator_resolution} px"
    return f"2/2 upscaler {config.generator_resolution}->{config.resolution} px"


def _bar_total(step: int, steps: int, remaining_s: float | None, step_times: list[float]) -> int:
    """Where the progress bar ends: the step count, or sooner where the time budget will stop the stage."""
    if remaining_s is None or not step_times:
        return steps
    return min(steps, step + int(max(remaining_s, 0.0) / statistics.fmean(step_times[-50:])))


class Upscaling:
    """The cascade's second stage: the upscaler, its optimiser and its crop sampler, checkpointed with the run."""

    def __init__(self, config: TrainConfig, dataset: Dataset, small: torch.Tensor, G: nn.Module, device: torch.device, state: dict[str, Any] | None) -> None:
        from latentmint.gan.upscale import MATCH_SAMPLES, PerceptualLoss, build_upscaler, colour_match_map, spectrum_match_filter
        from latentmint.metrics.evaluate import generate_uint8

        self.small, self.big = small, load_faces(dataset, config.resolution)
        self.device = device
        torch.manual_seed(config.seed + 1)
        self.U = build_upscaler(config).to(device)
        self.opt = torch.optim.Adam(self.U.parameters(), lr=config.lr_u, betas=(0.9, 0.99))
        self.gen = torch.Generator().manual_seed(config.seed * 7919 + 1)
        self.perceptual = PerceptualLoss().to(device) if config.upscale_perceptual else None
        self.step = 0
        if state is not None:
            self.U.load_state_dict(state["U"])
            self.opt.load_state_dict(state["opt_u"])
            self.gen.set_state(state["u_rng"])
            self.step = int(state["u_step"])
        else:  # the generator is final now: fit what gives its faces the photos' spectrum, then colours (RNG left as it was)
            faces = generate_uint8(G, MATCH_SAMPLES, seed=config.seed)
            self.U.match_filter.copy_(spectrum_match_filter(faces, small))
            with torch.no_grad():
                filtered = torch.cat([to_uint8(self.U.match(to_float(f.to(device)))) for f in faces.split(64)])
            self.U.match_colour.copy_(colour_match_map(filtered, small))

    def state_dict(self) -> dict[str, Any]:
        return {"U": self.U.state_dict(), "opt_u": self.opt.state_dict(), "u_rng": self.gen.get_state(), "u_step": self.step}

    def run(
        self, config: TrainConfig, deadline: float, elapsed: Callable[[], float], checkpoint: Callable[[], None], log: RunLog, offset: int,
        progress: Progress | None, autocast: contextlib.AbstractContextManager[Any],
    ) -> str:
        """Train until `upscale_steps` or until `elapsed()` reaches `deadline` (0: no time limit), under the run's autocast."""
        from latentmint.gan.upscale import paired_crops, upscaler_step

        self.U.train()
        timer = StepTimer(self.device)
        while self.step < config.upscale_steps:
            if deadline and elapsed() >= deadline:
                return "time_budget"
            timer.start()
            lo, hi = paired_crops(self.small, self.big, config.upscale_batch, self.gen, self.U.scale)
            losses = upscaler_step(self.U, self.opt, _on_device(lo, self.device), _on_device(hi, self.device), self.perceptual, config.upscale_perceptual, autocast)
            self.step += 1
            if timer.stop(offset + self.step, losses):
                log.scalars(offset + self.step, timer.readings)
            if self.step % config.ckpt_every == 0:
                checkpoint()
            if progress:
                remaining = deadline - elapsed() if deadline else None
                progress(self.step, _bar_total(self.step, config.upscale_steps, remaining, timer.times), {**timer.readings, "stage": _stage_label(config, "upscaler")})
        return "steps"


def _inception(studio: Studio, device: torch.device):
    """The FID network (checked before training starts), else None."""
    from latentmint.metrics.fid import feature_network

    net = feature_network(studio.setting("metrics", "inception_weights") or None)
    return net.to(device) if net is not None else None


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _train_step(
    G_run, D_run, G, D, opt_g, opt_d, real, config: TrainConfig, ada: AdaptiveP, autocast, dist: Dist, instance: InstanceDiscrimination | None = None
) -> dict[str, torch.Tensor]:
    """One discriminator and one generator update. `G_run`/`D_run` may be compiled; `G`/`D` own the weights.
    With `instance`, D's passes also return their 8x8 features for the contrastive tasks (gan/instance.py)."""
    n = real.shape[0]
    z = torch.randn(n, config.z_dim, device=real.device)
    fastgan = config.arch == "fastgan" and config.discriminator in ("own", "own+projected")  # FastGAN's D also reconstructs reals
    part = int(torch.randint(0, 4, (1,)))
    d_params = [p for p in D.parameters() if p.requires_grad] + (instance.head_parameters() if instance else [])
    feats = {"features": True} if instance else {}
    if config.compile:  # compiled layers only read their spectral-norm vectors (networks._SpectralNorm)
        power_iterate(G)
        power_iterate(D)

    # Discriminator: hinge on augmented reals and fakes, (FastGAN) reconstruct the reals, and on R1 steps
    # penalise D's gradient at the reals: with the eager D for the whole step, as double backward does not run
    # through a compiled graph, nor does a backward that mixes one with eager calls of the same D.
    with autocast:
        fake = G_run(z)
        if instance:
            k_real, k_fake = instance.keys(real, fake.detach(), ada.p, config.augment)
        real_aug = diff_augment(real, ada.p, config.augment)
        r1 = config.r1_gamma > 0 and float(torch.rand(())) < 1 / R1_EVERY
        if r1:
            real_aug = real_aug.detach().requires_grad_(True)
        D_step = D if r1 else D_run
        fake_aug = diff_augment(fake.detach(), ada.p, config.augment)
        if fastgan:
            logits_real, rec_whole, rec_part, *f_real = D_step(real_aug, part=part, **feats)
            want_whole, want_part = reconstruction_targets(real_aug, D.rec_res, part)
            loss_rec = F.l1_loss(rec_whole.float(), want_whole.float()) + F.l1_loss(rec_part.float(), want_part.float())
        else:
            logits_real, loss_rec = D_step(real_aug), torch.zeros((), device=real.device)
        logits_fake, *f_fake = _split(D_step(fake_aug, **feats), instance)
        loss_d = _judged(F.relu(1 - logits_real.float()), D) + _judged(F.relu(1 + logits_fake.float()), D) + config.recon_weight * loss_rec
        if instance:
            loss_d = loss_d + config.instance_weight * (instance.real.loss(f_real[0], k_real) + instance.fake.loss(f_fake[0], k_fake))
        if r1:
            loss_d = loss_d + config.r1_gamma / 2 * R1_EVERY * r1_penalty(logits_real, real_aug, D)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    _average_gradients(d_params, dist)
    opt_d.step()
    ada.observe(_all_mean(_judged(logits_real.detach().float().sign(), D, average=True), dist))

    # Generator: make the discriminator call the (augmented) fakes real; D's own gradients are not needed.
    for p in d_params:
        p.requires_grad_(False)
    with autocast:
        logits_g, *f_g = _split(D_run(diff_augment(fake, ada.p, config.augment), **feats), instance)
        loss_g = -_judged(logits_g.float(), D)
        if instance:  # G is paid for faces D can tell apart
            loss_g = loss_g + config.instance_weight * instance.fake.loss(f_g[0], k_fake)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    for p in d_params:
        p.requires_grad_(True)
    _average_gradients([p for p in G.parameters() if p.grad is not None], dist)
    opt_g.step()
    if instance:
        instance.follow(D, k_real, k_fake)
    # Tensors, not floats: reading them waits for the GPU, so the loop does it on logged steps only (StepTimer).
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "loss_rec": loss_rec.detach(), "logits_real": _judged(logits_real.detach().float(), D, average=True)}


def _split(out, instance: InstanceDiscrimination | None) -> tuple:
    """A real/fake pass's output as a tuple: (logits,) or, with instance discrimination, (logits, features)."""
    return out if instance else (out,)


def r1_penalty(logits: torch.Tensor, inputs: torch.Tensor, D: nn.Module | None) -> torch.Tensor:
    """The squared norm of the gradient of D's verdict at `inputs`, averaged over images; differentiable, so
    stepping D on it flattens D around those images. The verdict is `_judged`'s (an image's mean logit, its
    judges weighted where D has several), summed over the images so that each gets its own gradient."""
    logits = logits.float().flatten(1)
    (grad,) = torch.autograd.grad(_judged(logits, D, average=True) * logits.shape[0], inputs, create_graph=True)
    return grad.float().square().sum([1, 2, 3]).mean()


def _judged(values: torch.Tensor, D: nn.Module, average: bool = False) -> torch.Tensor:
    """The mean of per-logit values (N, K); where D has several judges (PairedDiscriminator), each judge's mean
    times its weight, summed (a loss), or with `average`, divided by the total weight (a statistic)."""
    weights = getattr(D, "column_weights", None)
    if weights is None:
        return values.mean()
    total = (values * weights).sum(1).mean()
    return total / weights.sum() if average else total


def _average_gradients(params: list[nn.Parameter], dist: Dist) -> None:
    """Data parallelism under torchrun: every process steps with the gradient averaged over all of them.

    Done by hand rather than with DDP because a GAN step runs the discriminator several times before
    one backward pass, which DDP's hooks do not allow.
    """
    if dist.world == 1:
        return
    import torch.distributed as tdist
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    grads = [p.grad for p in params if p.grad is not None]
    flat = _flatten_dense_tensors(grads)
    tdist.all_reduce(flat)
    flat /= dist.world
    for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
        g.copy_(synced)


def _all_mean(value: torch.Tensor, dist: Dist) -> torch.Tensor:
    """The overfitting signal averaged over all processes, so every rank moves p the same way."""
    if dist.world > 1:
        import torch.distributed as tdist

        value = value.detach().clone()
        tdist.all_reduce(value)
        value /= dist.world
    return value


def _capture_rng(data_gen: torch.Generator, cuda: bool) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda else [],
        "data": data_gen.get_state(),
    }


def _restore_rng(rng: dict[str, Any], data_gen: torch.Generator, cuda: bool) -> None:
    torch.set_rng_state(rng["torch"])
    if cuda and rng.get("cuda"):
        torch.cuda.set_rng_state_all(rng["cuda"])
    data_gen.set_state(rng["data"])
