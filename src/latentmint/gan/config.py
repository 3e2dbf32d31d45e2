"""Training configuration: presets by resolution and hardware, every value overridable.

A run records the whole config in run.json, and which values the artist changed from the preset
(part of the human contribution the certificate reports later).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from latentmint.errors import LatentmintError


@dataclass
class TrainConfig:
    preset: str = ""
    arch: str = "fastgan"  # fastgan | dcgan (the baseline)
    discriminator: str = "own"  # own (the arch's) | projected (frozen EfficientNet-Lite0 features, Projected GAN) | own+projected
    projected_weight: float = 1.0  # own+projected: the projected judges' weight beside the own discriminator's
    projected_view: int = 0  # the size the pretrained network reads images at (0: the resolution, at least 128 px)
    resolution: int = 64  # the works' size
    # A cascade: the generator trains at `upscale_from` px and an upscaler, trained on the same photos, takes
    # its faces to `resolution` (0: the generator itself works at `resolution`).
    upscale_from: int = 0
    upscale_width: int = 48
    upscale_blocks: int = 8
    upscale_batch: int = 16
    upscale_steps: int = 1500  # about 8 minutes on two cores in bfloat16; it starts from bicubic and learns fast
    # With a time budget, the upscaler's share of it. One generator's faces stopped gaining after about 1,000 upscaler
    # steps (KID at 256 px: 0.0233 at 600, 0.0223 at 935, 0.0220 at 1,245, 0.0223 at 1,560), which 15% of an hour
    # gives even in float32 (0.50-0.58 s a step on two cores; 0.31 s in bfloat16); the rest trains the generator
    # (what that buys at 256 px is not yet measured beyond one draw: docs/benchmarks.md).
    upscale_share: float = 0.15
    # Weight of the perceptual loss (frozen EfficientNet-Lite0 features) beside L1. Upscalers trained alike for one 60-minute
    # cascade scored KID 0.0215 / 0.0212 (two sets of its faces) at 0.5, 0.0208 / 0.0206 at 2, 0.0211 / 0.0208 at 4 and
    # 0.0211 / 0.0209 at 8; the deeper two feature maps added as well lost (0.0230). docs/benchmarks.md.
    upscale_perceptual: float = 2.0
    lr_u: float = 2e-4
    z_dim: int = 256
    ngf: int = 64
    ndf: int = 64
    batch: int = 16
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # The last fraction of the run (by steps or time budget, whichever ends it) over which lr_g and lr_d fall
    # linearly to zero; 0: constant. A fixed high rate keeps the two nets circling; lowering it lets them settle.
    lr_decay: float = 0.0
    ema_beta: float = 0.999  # per step; the EMA generator is the one that makes works
    steps: int = 2600
    time_budget_s: float = 0.0  # stop after this many seconds (0: no limit); whichever comes first
    augment: tuple[str, ...] = ("color", "translation", "cutout")
    ada_target: float = 0.6  # 64 px on 6,620 steps: 0.45 and augmenting always (FastGAN's code) both lost
    ada_start_p: float = 0.2
    ada_speed_images: int = 20_000
    xflip: bool = True  # faces are left-right symmetric: flipping doubles a small dataset for free
    recon_weight: float = 1.0
    # R1 (Mescheder et al. 2018): penalise D's gradient at the real photos, gamma/2 |grad|^2, on 1 step in 16
    # (lazy, as StyleGAN2) scaled by 16; it keeps D smooth around the photos so G is pulled towards all of them.
    r1_gamma: float = 0.0
    # Instance discrimination (gan/instance.py): the weight of D's contrastive tasks and of G's; 0: off. FastGAN's
    # own discriminator only.
    instance_weight: float = 0.0
    freeze_d: int = 0  # with --init-from: freeze this many early discriminator blocks
    seed: int = 0
    ckpt_every: int = 200
    sample_every: int = 200
    eval_every: int = 0  # SWD (and FID/KID when weights exist) every N steps; 0: only at the end
    eval_samples: int = 500
    sample_seeds: int = 36  # the fixed-seed grid
    channels_last: bool = True
    compile: bool = False
    amp: bool = True  # bfloat16 autocast where the hardware has it (CUDA; CPUs with AVX512-BF16 or AMX)
    device: str = "auto"

    @property
    def resolution_ok(self) -> bool:
        sizes = (64, 128, 256, 512, 1024)
        return self.resolution in sizes and (not self.upscale_from or (self.upscale_from in sizes and self.upscale_from < self.resolution))

    @property
    def instance_discrimination_fits(self) -> bool:
        """Instance discrimination reads FastGAN's own discriminator's features: no other arch or discriminator."""
        return (self.arch, self.discriminator) == ("fastgan", "own")

    @property
    def generator_resolution(self) -> int:
        """The size the face generator trains and draws at (below `resolution` in a cascade)."""
        return self.upscale_from or self.resolution

    def stages(self) -> list[str]:
        return ["generator", "upscaler"] if self.upscale_from else ["generator"]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in doc.items() if k in known}
        return cls(**values)


_BASE = TrainConfig()

# The 64 px CPU generator, alone (faces-64-cpu) or as a cascade's first stage (faces-256-cpu). Sized so that
# 2,600 steps fit in well under 30 minutes on two CPU cores; the closing FID/KID reads 2 x 200 images through
# Inception (about 8 images/s on two cores), not 2 x 500. The learning rate falls linearly to zero over the last
# 30% of the run: at a fixed high rate the nets keep circling (KID rose from 30 to 60 minutes); at 4e-4 the decay took
# 6,620 steps from KID 0.0203 to 0.0168 (over the last 50%: 0.0201; over the whole run: 0.0225). With the decay a
# high rate pays: 30 minutes on two cores scored KID 0.0242 at 4e-4, 0.0182 at 8e-4, and 0.0169 and 0.0221 (two
# seeds) at 1.6e-3 (docs/benchmarks.md): 8e-4, the smaller rate, had already trained 6,834 steps without trouble.
# No colour augmentation on the CPU presets: with p near 0.7, most of what D saw had its brightness, saturation and
# contrast randomised, which hid the photos' variety of colour from it, and the faces came out too alike in colour.
# Without it, seeds 0-3 at 30 minutes scored KID 0.0168, 0.0174, 0.0159, 0.0159; with it, 0.0142 and 0.0182 (two runs),
# 0.0195, 0.0195, 0.0186; at 6,000 steps (the cascade's 45 minutes) two seeds scored 0.0144 and 0.0174 without it, 0.0170
# and 0.0201 with it (docs/benchmarks.md).
# R1 at gamma 0.8, 16 times ADA's rule (0.0002 x 64^2 / batch 16 = 0.05): on seeds 5 and 6 at 6,000 steps KID 0.0119
# and 0.0117, FID 25.9 on both, where 0.05 scored 0.0148 / 0.0159 (FID 29.7 / 30.0), 0.2 0.0171 / 0.0142, and none
# 0.0144 / 0.0174, 3.2 0.0198 / 0.0162; recall 0.13 with none, 0.16 at 0.05, 0.20 at 0.2 and 0.8, precision held; +1.5%
# a step (docs/benchmarks.md).
_CPU_64 = dict(ngf=24, ndf=24, batch=16, lr_g=8e-4, lr_d=8e-4, lr_decay=0.3, r1_gamma=0.8, eval_samples=200, augment=("translation", "cutout"))
# Under a time budget the 64 px generator still stops at 9,000 steps: on 540 photos it was past its best by 13,000 (one
# seed, KID 0.0115 at 8,749 steps against 0.0122 at 13,292; the bench's 60 minutes, 17,549 steps, 0.0128 against its 30
# minutes' 0.0112) as the discriminator learns the photos (ADA's p climbing past 0.5). Steps, not minutes, so a slower
# machine is not cut short; a cascade gives the time left to its upscaler (docs/benchmarks.md).
_BUDGET_STEPS = dict.fromkeys(("faces-64-cpu", "faces-256-cpu"), 9000)  # one generator, alone or as a cascade's first stage

PRESETS: dict[str, dict[str, Any]] = {
    "faces-64-cpu": dict(resolution=64, **_CPU_64),
    "faces-64": dict(resolution=64, ngf=64, ndf=64, batch=32),
    "faces-128-cpu": dict(resolution=128, ngf=16, ndf=16, batch=8, eval_samples=200),
    "faces-128": dict(resolution=128, ngf=64, ndf=64, batch=32),
    # 256 px on a CPU is a cascade: the 64 px preset's generator, then a x4 upscaler trained on the same photos;
    # a 256 px generator learns far fewer faces per CPU-minute (see docs/benchmarks.md).
    # Its generator adds instance discrimination (InsGen): the bench's cascade went from KID 0.0210 to 0.0182 with it
    # (8,157 steps at 0.33 s instead of 9,000 at 0.28), while the 64 px model alone lost at equal time (30 minutes:
    # 0.0151 against 0.0135), so faces-64-cpu goes without it (docs/benchmarks.md).
    "faces-256-cpu": dict(resolution=256, upscale_from=64, **_CPU_64, instance_weight=1.0),
    # GPU presets (an H200, docs/benchmarks.md): channels-last is 22%/13% faster at 512/1024 px; torch.compile gains
    # 6% at 256 px after 2.5 minutes compiling, so it stays opt-in. A checkpoint is ~600 MB and a step 0.07-0.14 s:
    # one every 1,000 steps risks one to two minutes of work, as 200 steps do on a CPU.
    "faces-256": dict(resolution=256, ngf=64, ndf=64, batch=16, ckpt_every=1000),
    "faces-512": dict(resolution=512, ngf=64, ndf=64, batch=8, ckpt_every=1000),
    "faces-1024": dict(resolution=1024, ngf=64, ndf=64, batch=8, ckpt_every=1000),
    # Radford et al.'s DCGAN, the baseline of the benchmarks (no augmentation, no EMA tricks needed).
    "dcgan-64": dict(arch="dcgan", resolution=64, z_dim=100, ngf=64, ndf=64, batch=16, augment=(), ada_start_p=0.0, xflip=False),
}


def pick_preset(resolution: int, device: str) -> str:
    """faces-<R>-cpu on a CPU when that exists, else faces-<R>."""
    name = f"faces-{resolution}"
    if name not in PRESETS:
        raise LatentmintError(f"no preset for {resolution} px: choose 64, 128, 256, 512 or 1024")
    return f"{name}-cpu" if device == "cpu" and f"{name}-cpu" in PRESETS else name


NO_STEP_LIMIT = 10**9


def make_config(preset: str, overrides: dict[str, Any]) -> TrainConfig:
    """The preset with `overrides` applied. A time budget lifts the preset's step counts to the preset's budget cap
    (none for most; steps given with it still apply, whichever comes first): the budget is the user's knob, and
    `--time-budget 1h` at 256 px would otherwise stop after the preset's 2,600 + 1,500 steps (about 17 minutes on our
    two-core Zen 5)."""
    if preset not in PRESETS:
        raise LatentmintError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    config = dataclasses.replace(_BASE, preset=preset, **PRESETS[preset])
    if overrides.get("time_budget_s"):
        config = dataclasses.replace(config, steps=_BUDGET_STEPS.get(preset, NO_STEP_LIMIT), upscale_steps=NO_STEP_LIMIT)
    config = dataclasses.replace(config, **overrides)
    if not config.instance_discrimination_fits and "instance_weight" not in overrides:
        config = dataclasses.replace(config, instance_weight=0.0)  # the preset's instance heads read FastGAN's own D only
    return config


def changed_from_preset(config: TrainConfig) -> dict[str, Any]:
    """The values the artist chose that differ from the preset (device and bookkeeping excluded)."""
    # Against the preset under the same budget (whose step counts the budget lifted), the budget itself still counting.
    preset = make_config(config.preset, {"time_budget_s": config.time_budget_s}) if config.preset in PRESETS else _BASE
    preset = dataclasses.replace(preset, time_budget_s=_BASE.time_budget_s)
    if not config.instance_discrimination_fits:  # another discriminator drops the instance heads: not a choice of its own
        preset = dataclasses.replace(preset, instance_weight=0.0)
    skip = {"device", "ckpt_every", "sample_every", "eval_every", "eval_samples", "preset"}
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in skip and getattr(config, f.name) != getattr(preset, f.name)}


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from --set, typed like the field it sets."""
    if "=" not in text:
        raise LatentmintError(f"--set {text!r}: expected KEY=VALUE")
    key, raw = (s.strip() for s in text.split("=", 1))
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if key not in fields:
        raise LatentmintError(f"--set {key}: unknown setting; known: {', '.join(sorted(fields))}")
    current = getattr(_BASE, key)
    try:
        if isinstance(current, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return key, raw.lower() in ("true", "1", "yes")
        if isinstance(current, tuple):
            items = [s for s in re.split(r"[,\s]+", raw) if s]
            return key, tuple(type(current[0])(s) for s in items) if current else tuple(items)
        return key, type(current)(raw)
    except ValueError as exc:
        raise LatentmintError(f"--set {key}={raw}: expected a {type(current).__name__}") from exc


def parse_duration(text: str) -> float:
    """'30m', '1h30m', '90s', '2h', or plain seconds -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise LatentmintError(f"time budget {text!r}: use a form like 30m, 1h30m or 90s")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


__all__ = ["TrainConfig", "PRESETS", "pick_preset", "make_config", "changed_from_preset", "parse_override", "parse_duration"]
