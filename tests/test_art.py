"""From a trained model to works: determinism, records, animations, mixing, curation, originality."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentmint.art.generate import generate, mix, walk
from latentmint.art.latents import parse_seeds, slerp, walk_latents
from latentmint.art.originality import model_originality, score_image
from latentmint.art.works import list_works, load_work, select_works
from latentmint.data.dataset import Dataset
from latentmint.data.dedupe import hamming, phash
from latentmint.data.ingest import IngestOptions, ingest
from latentmint.errors import LatentmintError
from latentmint.gan.config import make_config
from latentmint.gan.train import train
from latentmint.studio import Studio, init_studio

from conftest import copy_faces, dataset_or_skip

pytestmark = pytest.mark.slow
TINY = {"ngf": 8, "ndf": 8, "batch": 4, "steps": 40, "sample_every": 100, "ckpt_every": 100, "eval_samples": 8, "sample_seeds": 4}


@pytest.fixture(scope="module")
def art_studio(tmp_path_factory: pytest.TempPathFactory) -> Studio:
    utk = dataset_or_skip("utk540")
    root = tmp_path_factory.mktemp("art")
    studio = init_studio(root / "studio")
    ingest(copy_faces(utk, root / "faces", 24), studio, "faces", IngestOptions(resolution=64, aligned=True, workers=1))
    train(studio, "faces", "run", make_config("faces-64-cpu", TINY))
    train(studio, "faces", "base", make_config("dcgan-64", {**TINY, "ngf": 8, "ndf": 8}))
    return studio


def test_seed_parsing() -> None:
    assert parse_seeds("1-4,9,3") == [1, 2, 3, 4, 9]
    with pytest.raises(LatentmintError):
        parse_seeds("4-1")
    with pytest.raises(LatentmintError):
        parse_seeds("one")


def test_walk_latents_pass_through_every_seed_and_loop() -> None:
    import torch

    keys = torch.randn(3, 16)
    path = walk_latents(keys, 12, loop=True)
    assert torch.allclose(path[0], keys[0]) and torch.allclose(path[4], keys[1], atol=1e-5) and torch.allclose(path[8], keys[2], atol=1e-5)
    mid = slerp(keys[0], keys[1], 0.5)
    assert abs(float(mid.norm()) - float((keys[0].norm() + keys[1].norm()) / 2)) < 0.2 * float(keys[0].norm())


def test_generate_writes_works_that_are_reproducible(art_studio: Studio) -> None:
    works = generate(art_studio, "run", [1, 2, 3])
    assert len(works) == 3 and len({w.id for w in works}) == 3
    for w in works:
        rec = w.record
        assert rec["kind"] == "image" and rec["model"]["model_sha256"] and rec["model"]["dataset_hash"]
        assert rec["model"]["run"] == "run" and rec["model"]["step"] == 40 and rec["software"].startswith("latentmint")
        assert (art_studio.root / rec["model"]["model_file"]).is_file()
        with Image.open(w.file) as im:
            assert im.size == (64, 64)
            assert json.loads(im.text["latentmint"])["seed"] == rec["generation"]["seed"]
        assert rec["human_actions"] == [{"action": "chose_seed", "seed": rec["generation"]["seed"], "time": rec["human_actions"][0]["time"]}]
        assert set(rec["originality"]) >= {"near_copy", "lookalike", "identity_distance", "nearest"}
    alone = generate(art_studio, "run", [2])[0]
    assert alone.id == works[1].id and alone.file.read_bytes() == works[1].file.read_bytes()
    other = generate(art_studio, "run", [2], truncation=0.5)[0]
    assert other.id != works[1].id and other.file.read_bytes() != works[1].file.read_bytes()
    assert {"action": "chose_truncation", "truncation": 0.5} in [{k: v for k, v in a.items() if k != "time"} for a in other.record["human_actions"]]


def test_generation_does_not_depend_on_batching(art_studio: Studio, tmp_path: Path) -> None:
    """The same seed in a batch of 20 (two padded batches) and alone gives the same bytes."""
    many = {w.record["generation"]["seed"]: w.file.read_bytes() for w in generate(art_studio, "run", list(range(100, 120)))}
    shutil.rmtree(load_work(art_studio, generate(art_studio, "run", [117])[0].id).root)
    again = generate(art_studio, "run", [117])[0]
    assert again.file.read_bytes() == many[117]


@pytest.mark.parametrize("fmt", ["gif", "webp", "mp4"])
def test_walks_loop_through_the_seeds(art_studio: Studio, fmt: str) -> None:
    work = walk(art_studio, "run", [3, 17, 42], frames=12, loop=True, fmt=fmt, fps=12)
    assert work.record["kind"] == "walk" and work.file.name == f"walk.{fmt}"
    assert work.record["generation"] == {"seeds": [3, 17, 42], "frames": 12, "loop": True, "format": fmt, "fps": 12, "truncation": 1.0}
    if fmt == "mp4":
        import av

        with av.open(str(work.file)) as container:
            assert sum(1 for _ in container.decode(video=0)) == 12
    else:
        with Image.open(work.file) as im:
            assert im.n_frames == 12 and im.info.get("loop") == 0
    assert "originality" in work.record


def test_gif_of_smooth_frames_is_small() -> None:
    """Faces are smooth images: with one shared palette and no dithering, LZW keeps them well under
    half a byte per pixel per frame (a dithered GIF of the same frames is several times larger)."""
    from latentmint.art.animate import encode

    yy, xx = np.mgrid[0:256, 0:256] / 255.0
    frames = []
    for t in np.linspace(0, 2 * np.pi, 24, endpoint=False):
        cx, cy = 0.5 + 0.2 * np.cos(t), 0.5 + 0.2 * np.sin(t)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05)
        rgb = np.stack([blob * 220 + 20, yy * 180 + 40 * blob, (1 - xx) * 160 + 60], axis=-1)
        frames.append(Image.fromarray(rgb.clip(0, 255).astype(np.uint8)))
    data = encode(frames, "gif", 24)
    assert len(data) < 0.5 * 24 * 256 * 256
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 24


def test_mix_takes_shape_and_style_from_two_seeds(art_studio: Studio) -> None:
    mixed = mix(art_studio, "run", coarse=3, fine=17)
    a, b = generate(art_studio, "run", [3, 17])
    pixels = lambda w: np.asarray(Image.open(w.file), dtype=np.float64)  # noqa: E731
    assert not np.array_equal(pixels(mixed), pixels(a)) and not np.array_equal(pixels(mixed), pixels(b))
    assert mixed.record["generation"] == {"coarse": 3, "fine": 17, "truncation": 1.0}
    with pytest.raises(LatentmintError, match="no style inputs"):
        mix(art_studio, "base", coarse=1, fine=2)


def test_selection_is_recorded_as_k_of_n(art_studio: Studio) -> None:
    works = generate(art_studio, "run", [7, 8, 9, 10])
    selection = select_works(art_studio, [works[0].id, works[2].id], [w.id for w in works])
    assert selection["k"] == 2 and selection["of"] == 4
    assert load_work(art_studio, works[0].id).record["human_actions"][-1]["action"] == "selected"
    assert all(a["action"] != "selected" for a in load_work(art_studio, works[1].id).record["human_actions"])
    assert json.loads((art_studio.works / "selections.json").read_text())[-1]["selected"] == sorted([works[0].id, works[2].id])
    with pytest.raises(LatentmintError, match="no such work"):
        select_works(art_studio, ["nope"])


def test_training_images_and_their_light_copies_are_near_copies(art_studio: Studio, tmp_path: Path) -> None:
    dataset = Dataset.load(art_studio.datasets / "faces")
    for face in dataset.faces[:5]:
        original = dataset.root / face["image"]
        assert score_image(art_studio, "run", original).near_copy
        im = Image.open(original).convert("RGB")
        shifted = im.transform(im.size, Image.AFFINE, (1, 0, 2, 0, 1, -2), resample=Image.BILINEAR)
        darker = Image.eval(shifted, lambda v: int(v * 0.85))
        copy = tmp_path / f"copy-{face['sha256'][:8]}.jpg"
        darker.resize((128, 128), Image.LANCZOS).save(copy, "JPEG", quality=70)
        verdict = score_image(art_studio, "run", copy)
        assert verdict.near_copy and verdict.nearest[0].endswith(face["image"])


def test_independent_faces_are_not_near_copies(art_studio: Studio) -> None:
    """utk-ref2000 shares no photo with these 24 training faces... except where UTKFace itself holds the
    same photo twice: any flag must then be the same photo by an independent perceptual hash."""
    dataset = Dataset.load(art_studio.datasets / "faces")
    train_hashes = [phash(Image.open(dataset.root / f["image"])) for f in dataset.faces]
    ref = sorted(dataset_or_skip("utk-ref2000").glob("*.jpg"))[:60]
    verdicts = [score_image(art_studio, "run", p) for p in ref]
    for path, verdict in zip(ref, verdicts):
        if verdict.near_copy:
            own = phash(Image.open(path).convert("RGB").resize((64, 64), Image.LANCZOS))
            assert min(hamming(own, h) for h in train_hashes) <= 24, f"{path.name} flagged but is not the same photo"
    assert sum(v.near_copy for v in verdicts) <= 2
    lookalike_rate = sum(v.lookalike for v in verdicts) / len(verdicts)
    assert 0.0 <= lookalike_rate <= 1.0 and all(v.identity_distance is not None and v.identity_distance > 0 for v in verdicts)
    print(f"lookalike rate of 60 utk-ref2000 faces against 24 training faces: {lookalike_rate:.1%}")


def test_model_originality_writes_rate_and_sheet(art_studio: Studio) -> None:
    report = model_originality(art_studio, "run", samples=8)
    assert 0 <= report["memorisation_rate"] <= 1 and 0 <= report["lookalike_rate"] <= 1
    assert Path(report["sheet"]).is_file() and report["works_checked"] == len([w for w in list_works(art_studio) if w.record["kind"] != "walk" and w.record["model"]["run"] == "run"])
    assert json.loads((art_studio.runs / "run" / "originality.json").read_text())["samples"] == 8


def test_gif_frames_are_not_dithered_noise(art_studio: Studio) -> None:
    work = walk(art_studio, "run", [11, 12], frames=4, loop=False, fmt="gif")
    with Image.open(work.file) as im:
        first = np.asarray(im.convert("RGB"), dtype=np.float64)
    png = generate(art_studio, "run", [11])[0]
    reference = np.asarray(Image.open(png.file).convert("RGB"), dtype=np.float64)
    assert np.abs(first - reference).mean() < 12  # the walk's first frame is seed 11 (noise fixed to it), palette-reduced
