"""Originality of works and of whole models, against the training faces (see metrics/originality.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from latentmint.art.model import open_model, render, to_pil
from latentmint.art.latents import latents
from latentmint.art.works import Work, list_works
from latentmint.data.dataset import Dataset, dataset_dir
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_json
from latentmint.metrics.originality import OriginalityIndex, Verdict, originality_sheet
from latentmint.studio import Studio


def index_for(studio: Studio, model_info: dict[str, Any], progress=None) -> OriginalityIndex:
    """The originality index of the dataset a model was trained on."""
    dataset = Dataset.load(dataset_dir(studio.datasets, model_info["dataset"]))
    if dataset.content_hash() != model_info["dataset_hash"]:
        raise LatentmintError(f"{dataset.json_path}: changed since {model_info['run']} was trained; originality needs the exact training set")
    return OriginalityIndex(dataset, progress)


def check_work(work: Work, index: OriginalityIndex, frames: list[Image.Image] | None = None) -> Verdict:
    """Score a work (for an animation, its worst key frame) and record the verdict in work.json once."""
    if "originality" in work.record:  # judged when it was made: records are added to, never rewritten
        return Verdict.from_json(work.record["originality"])
    if frames is None:
        with Image.open(work.file) as im:
            frames = [im.convert("RGB")]
    verdicts = [index.score(frame) for frame in frames]
    worst = max(verdicts, key=lambda v: (v.near_copy, v.ncc))
    closest = min(verdicts, key=lambda v: v.identity_distance if v.identity_distance is not None else float("inf"))
    verdict = Verdict(worst.near_copy, worst.ncc, worst.nearest, closest.lookalike, closest.identity_distance, closest.nearest_identity)
    work.record["originality"] = {**verdict.to_json(), "dataset_hash": index.dataset.content_hash()}
    work.save()
    return verdict


def score_image(studio: Studio, run: str, path: Path) -> Verdict:
    """Score any image file against a run's training set; photos are aligned first like the dataset."""
    model = open_model(studio, run)
    index = index_for(studio, model.info)
    from latentmint.data.photos import MAX_PIXELS, Rejected, read_photo

    try:
        image = read_photo(path, max_pixels=MAX_PIXELS, min_size=16).image
    except Rejected as rej:
        raise LatentmintError(f"{path}: {rej.detail}") from rej
    if image.width != image.height:  # a photo, not an aligned face: align it the way ingest did
        import numpy as np

        from latentmint.data.align import align_face, ffhq_quad
        from latentmint.data.faces import FaceAnalyzer

        faces = FaceAnalyzer().detect(np.asarray(image))
        if not faces:
            raise LatentmintError(f"{path}: no face found to compare")
        image = align_face(image, ffhq_quad(faces[0].landmarks), index.dataset.resolution)
    return index.score(image)


def model_originality(studio: Studio, run: str, samples: int = 200, progress=None) -> dict[str, Any]:
    """The model's memorisation rate over `samples` fresh seeds, and a sheet of its works beside their nearest faces."""
    model = open_model(studio, run)
    index = index_for(studio, model.info, progress)
    seeds = list(range(samples))
    images = render(model, latents(seeds, model.z_dim), seeds)
    verdicts = []
    for i, image in enumerate(images):
        verdicts.append(index.score(to_pil(image)))
        if progress:
            progress(i + 1, samples)
    works = [w for w in list_works(studio) if w.record["model"]["run"] == run and w.record["kind"] != "walk"]
    sheet_rows = [(w.file, check_work(w, index)) for w in works]
    if not sheet_rows:  # no works yet: show the first samples instead
        tmp = studio.runs / run / "originality-samples"
        tmp.mkdir(exist_ok=True)
        for i, (image, verdict) in enumerate(zip(images[:12], verdicts[:12])):
            to_pil(image).save(tmp / f"seed-{i}.png")
            sheet_rows.append((tmp / f"seed-{i}.png", verdict))
    sheet = originality_sheet(sheet_rows, studio.root, studio.runs / run / "originality.png")
    distances = [v.identity_distance for v in verdicts if v.identity_distance is not None]
    report = {
        "run": run,
        "samples": samples,
        "memorisation_rate": sum(v.near_copy for v in verdicts) / samples,
        "lookalike_rate": sum(v.lookalike for v in verdicts) / samples,
        "median_identity_distance": sorted(distances)[len(distances) // 2] if distances else None,
        "works_checked": len(works),
        "sheet": str(sheet),
    }
    atomic_write_json(studio.runs / run / "originality.json", report)
    return report
