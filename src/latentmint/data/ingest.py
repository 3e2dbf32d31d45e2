"""`ingest`: a folder of photos -> a clean, aligned, deduplicated and credited face dataset.

Worker processes (one per core) decode, detect, align and hash each photo; this process decides what
is kept (duplicates need the global view), writes faces atomically and saves dataset.json every few
seconds, so an interrupted run leaves a dataset that loads and a rerun resumes where it stopped.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from latentmint.data.align import align_face, ffhq_quad, quad_size
from latentmint.data.credits import Credits
from latentmint.data.dataset import Dataset, dataset_dir, now_iso
from latentmint.data.dedupe import NearDuplicateIndex, phash
from latentmint.data.photos import MAX_PIXELS, Reason, Rejected, find_photos, read_photo
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from latentmint.images import grid, png_bytes, sharpness
from latentmint.studio import Studio

RESOLUTIONS = (64, 128, 256, 512, 1024)
SAVE_EVERY_S = 5.0
# Same photo re-encoded or resized: whole-photo hashes differ by at most a few bits in 256; distinct
# photos of one sitter in one studio by 30 or more.
SOURCE_DUPLICATE_FRACTION = 16 / 256
# Same photo cropped: the aligned faces' hashes are close *and* their pixels nearly equal (a mean
# absolute difference under 3.5 levels at 64 px, where a neutral and a smiling shot differ by 4+).
FACE_DUPLICATE_FRACTION = 24 / 256
FACE_DUPLICATE_MAX_MAD = 3.5

Progress = Callable[[int, int], None]


@dataclass
class IngestOptions:
    resolution: int = 256
    aligned: bool = False  # inputs are already aligned crops: skip detection, only resize
    credits: Path | None = None
    min_size: int = 64  # shortest side of a photo, px
    min_face: int | None = None  # side of the face's crop quad in source px; None: half the resolution
    blur_threshold: float = 15.0  # minimum sharpness of the aligned face; 0 disables the check
    max_pixels: int = MAX_PIXELS  # refuse larger images from their header, before decoding
    detector: str = "hog"
    detect_size: int = 512
    workers: int = 0  # 0: one per core

    def validate(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise LatentmintError(f"resolution {self.resolution}: choose a power of two from 64 to 1024")
        if self.credits is not None and not Path(self.credits).is_file():
            raise LatentmintError(f"{self.credits}: credits file not found")

    @property
    def min_face_px(self) -> int:
        return self.min_face if self.min_face is not None else self.resolution // 2


@dataclass
class IngestReport:
    dataset: Path
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    already: int = 0  # files skipped because the dataset already holds them
    faces_total: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"dataset": str(self.dataset), "kept": self.kept, "rejected": self.rejected, "already": self.already}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.rejected:
            out[item["reason"]] = out.get(item["reason"], 0) + 1
        return out


@dataclass
class _Face:
    png: bytes
    phash: str
    thumb: np.ndarray  # 64 px RGB, for confirming near-duplicate candidates
    quad: list[list[float]]
    score: float | None
    sharpness: float
    embedding: list[float] | None


@dataclass
class _Result:
    path: Path
    sha256: str = ""
    source_phash: str = ""
    credit: dict[str, str] = field(default_factory=dict)
    faces: list[_Face] = field(default_factory=list)
    rejected: Rejected | None = None
    already: bool = False


# --- worker side -------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(options: IngestOptions, known: set[str]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _worker["options"] = options
    _worker["known"] = known
    if not options.aligned:
        from latentmint.data.faces import FaceAnalyzer

        _worker["faces"] = FaceAnalyzer(options.detector, options.detect_size)


def _thumb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.resize((64, 64), Image.BOX), dtype=np.uint8)


def _process(path: Path) -> _Result:
    options: IngestOptions = _worker["options"]
    result = _Result(path)
    try:
        result.sha256 = sha256_file(path)
    except OSError as exc:
        result.rejected = Rejected(Reason.UNREADABLE, f"cannot read: {exc.strerror or exc}")
        return result
    if result.sha256 in _worker["known"]:
        result.already = True
        return result
    try:
        photo = read_photo(path, max_pixels=options.max_pixels, min_size=options.min_size)
        result.credit = photo.exif_credit
        result.source_phash = phash(photo.image)
        result.faces = _aligned_input(photo.image, options) if options.aligned else _detect_and_align(photo.image, options)
    except Rejected as rej:
        result.rejected = rej
    return result


def _aligned_input(image: Image.Image, options: IngestOptions) -> list[_Face]:
    w, h = image.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)  # centre square
    crop = image.crop(box)
    face = crop.resize((options.resolution, options.resolution), Image.LANCZOS)
    sharp = sharpness(crop)
    if options.blur_threshold and sharp < options.blur_threshold:
        raise Rejected(Reason.BLURRY, f"sharpness {sharp:.1f} is under {options.blur_threshold:g}")
    quad = [[box[0], box[1]], [box[0], box[3]], [box[2], box[3]], [box[2], box[1]]]
    return [_Face(png_bytes(face), phash(face), _thumb(face), quad, None, round(sharp, 2), None)]


def _detect_and_align(image: Image.Image, options: IngestOptions) -> list[_Face]:
    analyzer = _worker["faces"]
    rgb = np.asarray(image)
    detected = analyzer.detect(rgb)
    if not detected:
        raise Rejected(Reason.NO_FACE, "no face found")
    faces: list[_Face] = []
    first_problem: Rejected | None = None
    for det in detected:
        quad = ffhq_quad(det.landmarks)
        size = quad_size(quad)
        if size < options.min_face_px:
            first_problem = first_problem or Rejected(
                Reason.FACE_TOO_SMALL, f"face spans {size:.0f} px, under the {options.min_face_px} px minimum"
            )
            continue
        face = align_face(image, quad, options.resolution)
        # Judged at 128 px or more whatever the output size, so a 64 px dataset is not called blurry.
        sharp = sharpness(face if options.resolution >= 128 else align_face(image, quad, 128))
        if options.blur_threshold and sharp < options.blur_threshold:
            first_problem = first_problem or Rejected(Reason.BLURRY, f"sharpness {sharp:.1f} is under {options.blur_threshold:g}")
            continue
        embedding = analyzer.embed(rgb, det)
        faces.append(
            _Face(
                png=png_bytes(face),
                phash=phash(face),
                thumb=_thumb(face),
                quad=np.round(quad, 2).tolist(),
                score=round(det.score, 4),
                sharpness=round(sharp, 2),
                embedding=[round(float(v), 6) for v in embedding],
            )
        )
    if not faces:
        assert first_problem is not None
        raise first_problem
    return faces


# --- main side -----------------------------------------------------------------------------------


class _Deduper:
    """Exact and near duplicates against everything kept so far (earlier runs included)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.by_sha: dict[str, str] = {}
        self.sources = NearDuplicateIndex(SOURCE_DUPLICATE_FRACTION)
        self.faces = NearDuplicateIndex(FACE_DUPLICATE_FRACTION)
        self.thumbs: dict[str, np.ndarray] = {}
        for face in dataset.faces:
            self.by_sha.setdefault(face["source_sha256"], face["source"])
            if face.get("source_phash"):
                self.sources.add(face["source_phash"], face["source"])
            self.faces.add(face["phash"], face["image"])

    def _thumb(self, key: str) -> np.ndarray:
        if key not in self.thumbs:
            with Image.open(self.dataset.root / key) as im:
                self.thumbs[key] = _thumb(im.convert("RGB"))
        return self.thumbs[key]

    def check(self, result: _Result) -> Rejected | None:
        if result.sha256 in self.by_sha:
            return Rejected(Reason.DUPLICATE, f"same bytes as {self.by_sha[result.sha256]}")
        hit = self.sources.match(result.source_phash)
        if hit:
            return Rejected(Reason.DUPLICATE, f"same photo as {hit[0]} (re-encoded or resized; {hit[1]} bits apart)")
        for face in result.faces:
            for key, dist in self.faces.candidates(face.phash):
                mad = float(np.abs(self._thumb(key).astype(np.float32) - face.thumb).mean())
                if mad < FACE_DUPLICATE_MAX_MAD:
                    return Rejected(Reason.DUPLICATE, f"same face as {key} (cropped copy; {dist} bits, {mad:.1f} levels apart)")
        return None

    def add(self, result: _Result, images: list[str]) -> None:
        self.by_sha[result.sha256] = str(result.path)
        self.sources.add(result.source_phash, str(result.path))
        for face, key in zip(result.faces, images):
            self.faces.add(face.phash, key)
            self.thumbs[key] = face.thumb


def ingest(photos: Path, studio: Studio, name: str, options: IngestOptions | None = None, progress: Progress | None = None) -> IngestReport:
    """Ingest every photo under `photos` into `studio/datasets/<name>`; rerunning adds only new photos."""
    options = options or IngestOptions()
    options.validate()
    photos = Path(photos).expanduser().resolve()
    if not photos.is_dir():
        raise LatentmintError(f"{photos}: photos folder not found")
    credits = Credits.from_csv(options.credits) if options.credits else None

    root = dataset_dir(studio.datasets, name)
    if (root / "dataset.json").exists():
        dataset = Dataset.load(root)
        if dataset.resolution != options.resolution or dataset.aligned_input != options.aligned:
            raise LatentmintError(
                f"{root}: dataset exists at {dataset.resolution} px{' (aligned input)' if dataset.aligned_input else ''}; "
                f"use another --name or the same --resolution{' and --aligned' if dataset.aligned_input else ''}"
            )
    else:
        dataset = Dataset(root, name, options.resolution, options.aligned)
    dataset.meta.update(
        {
            "curator": studio.artist_name(),
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items() if k != "workers"},
        }
    )
    dataset.meta.setdefault("sources", [])
    if str(photos) not in dataset.meta["sources"]:
        dataset.meta["sources"].append(str(photos))
    (root / "faces").mkdir(parents=True, exist_ok=True)

    files = find_photos(photos)
    report = IngestReport(root)
    dedupe = _Deduper(dataset)
    started = last_save = time.monotonic()
    workers = options.workers or os.cpu_count() or 1
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(options, dataset.source_hashes())) as pool:
        try:
            for done, result in enumerate(pool.map(_process, files, chunksize=1), 1):
                _record(result, photos, dataset, dedupe, credits, report)
                if progress:
                    progress(done, len(files))
                if time.monotonic() - last_save > SAVE_EVERY_S:
                    dataset.save()
                    last_save = time.monotonic()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            dataset.save()  # everything recorded so far stays usable; a rerun skips it
            raise
    report.seconds = time.monotonic() - started
    report.faces_total = len(dataset.faces)
    dataset.meta["last_ingest"] = now_iso()
    dataset.save()
    if dataset.faces:
        write_contact_sheet(dataset)
    atomic_write_json(root / "report.json", {**report.to_json(), "faces_total": report.faces_total, "seconds": round(report.seconds, 2)})
    if not dataset.faces:
        raise LatentmintError(f"{photos}: no usable face in {len(files)} file(s); see {root / 'report.json'}")
    return report


def _record(result: _Result, photos: Path, dataset: Dataset, dedupe: _Deduper, credits: Credits | None, report: IngestReport) -> None:
    source = str(result.path)
    if result.already:
        report.already += 1
        return
    rejected = result.rejected or dedupe.check(result)
    if rejected:
        report.rejected.append({"file": source, "reason": rejected.reason.value, "detail": rejected.detail})
        return
    relative = result.path.relative_to(photos).as_posix()
    credit = {**result.credit, **(credits.lookup(relative) if credits else {})}
    images = []
    for index, face in enumerate(result.faces):
        image = f"faces/{result.sha256[:16]}-{index}.png"
        atomic_write_bytes(dataset.root / image, face.png)
        images.append(image)
        dataset.faces.append(
            {
                "image": image,
                "sha256": sha256_bytes(face.png),
                "source": source,
                "source_relative": relative,
                "source_sha256": result.sha256,
                "face_index": index,
                "quad": face.quad,
                "detector_score": face.score,
                "phash": face.phash,
                "source_phash": result.source_phash,
                "sharpness": face.sharpness,
                "credit": credit,
                "embedding": face.embedding,
            }
        )
    dedupe.add(result, images)
    report.kept.append({"file": source, "faces": len(result.faces)})


def write_contact_sheet(dataset: Dataset, cell: int = 96, limit: int = 1024) -> Path:
    """contact.png: every kept face (up to `limit`) at a glance."""
    faces = []
    for path in dataset.image_paths()[:limit]:
        with Image.open(path) as im:
            faces.append(im.convert("RGB").resize((cell, cell), Image.LANCZOS))
    out = dataset.root / "contact.png"
    atomic_write_bytes(out, png_bytes(grid(faces, cell)))
    return out
