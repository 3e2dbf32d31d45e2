"""Generate works from a trained run: images by seed, latent walks, style mixes, each checked for originality."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from latentmint.art.latents import latents, walk_latents
from latentmint.art.model import open_model, render, to_pil
from latentmint.art.originality import check_work, index_for
from latentmint.art.works import Work, create_work
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes
from latentmint.images import grid, png_bytes
from latentmint.studio import Studio


def _png_with_params(image: Image.Image, params: dict[str, Any]) -> bytes:
    """The generation parameters ride in the PNG's text chunk as well as in work.json."""
    return png_bytes(image, latentmint=json.dumps(params, sort_keys=True))


def _truncation_choice(truncation: float | None) -> list[dict[str, Any]]:
    """A truncation the artist asked for is a human choice; the default is not."""
    return [] if truncation is None else [{"action": "chose_truncation", "truncation": truncation}]


def generate(studio: Studio, run: str, seeds: list[int], truncation: float | None = None, device: str = "cpu", progress=None) -> list[Work]:
    """One image work per seed, each checked for originality. `truncation` None means 1.0 and records no human choice."""
    model = open_model(studio, run, device)
    psi = 1.0 if truncation is None else truncation
    images = render(model, latents(seeds, model.z_dim, psi), seeds)
    works = []
    for seed, image in zip(seeds, images):
        generation = {"seed": seed, "truncation": psi}
        actions = [{"action": "chose_seed", "seed": seed}, *_truncation_choice(truncation)]
        params = {"kind": "image", "model_sha256": model.info["model_sha256"], **generation}
        works.append(create_work(studio, kind="image", filename="image.png", data=_png_with_params(to_pil(image), params), model=model.info, generation=generation, human_actions=actions)[0])
    index = index_for(studio, model.info)
    for i, work in enumerate(works):
        check_work(work, index)
        if progress:
            progress(i + 1, len(works))
    return works


def contact_grid(works: list[Work], path: Path, cell: int = 128) -> Path:
    tiles = []
    for work in works:
        with Image.open(work.file) as im:
            tiles.append(im.convert("RGB"))
    atomic_write_bytes(path, png_bytes(grid(tiles, cell)))
    return path


def mix(studio: Studio, run: str, coarse: int, fine: int, truncation: float | None = None, device: str = "cpu") -> Work:
    """Style mixing: the face's shape from seed `coarse`, its colours and textures from seed `fine`."""
    model = open_model(studio, run, device)
    if not getattr(model.generator, "supports_mixing", False):
        raise LatentmintError(f"{run}: a {model.info['arch']} model has no style inputs to mix (train a fastgan run)")
    psi = 1.0 if truncation is None else truncation
    z, style = latents([coarse], model.z_dim, psi), latents([fine], model.z_dim, psi)
    image = render(model, z, [coarse], style)[0]
    generation = {"coarse": coarse, "fine": fine, "truncation": psi}
    actions = [{"action": "chose_mix", "coarse": coarse, "fine": fine}, *_truncation_choice(truncation)]
    params = {"kind": "mix", "model_sha256": model.info["model_sha256"], **generation}
    work, _ = create_work(studio, kind="mix", filename="image.png", data=_png_with_params(to_pil(image), params), model=model.info, generation=generation, human_actions=actions)
    check_work(work, index_for(studio, model.info))
    return work


def walk(studio: Studio, run: str, seeds: list[int], frames: int = 120, loop: bool = True, fmt: str = "gif", fps: int = 24, truncation: float | None = None, device: str = "cpu") -> Work:
    """A latent walk through `seeds` as an animation work (GIF, MP4 or WebP)."""
    from latentmint.art.animate import encode

    if frames < 2:
        raise LatentmintError("a walk needs at least 2 frames")
    model = open_model(studio, run, device)
    psi = 1.0 if truncation is None else truncation
    keys = latents(seeds, model.z_dim, psi)
    z = walk_latents(keys, frames, loop)
    # Fixed noise across frames (the first seed's), so only the latent moves and the walk does not flicker.
    images = render(model, z, [seeds[0]] * frames)
    pictures = [to_pil(im) for im in images]
    data = encode(pictures, fmt, fps)
    generation = {"seeds": seeds, "frames": frames, "loop": loop, "format": fmt, "fps": fps, "truncation": psi}
    actions = [{"action": "chose_walk", "seeds": seeds, "frames": frames, "loop": loop, "format": fmt}, *_truncation_choice(truncation)]
    work, _ = create_work(studio, kind="walk", filename=f"walk.{fmt}", data=data, model=model.info, generation=generation, human_actions=actions)
    legs = len(seeds) if loop else len(seeds) - 1
    keys = sorted({min(round(i * (frames if loop else frames - 1) / legs), frames - 1) for i in range(legs + (0 if loop else 1))})
    check_work(work, index_for(studio, model.info), [pictures[k] for k in keys])  # the frames that show the chosen seeds
    return work
