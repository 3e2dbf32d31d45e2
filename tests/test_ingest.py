"""`ingest` on real photos and on crafted bad ones: the right reason for each, and no source touched."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from latentmint.data.align import ffhq_quad, to_aligned
from latentmint.data.dataset import Dataset
from latentmint.data.faces import FaceAnalyzer
from latentmint.data.ingest import IngestOptions, ingest
from latentmint.errors import LatentmintError
from latentmint.files import sha256_file
from latentmint.studio import Studio, init_studio

from conftest import copy_faces, dataset_or_skip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="module")
def london_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, object]:
    london = dataset_or_skip("london")
    studio = init_studio(tmp_path_factory.mktemp("london") / "studio")
    report = ingest(london, studio, "london", IngestOptions(resolution=256, credits=london / "credits.csv"))
    return Dataset.load(studio.datasets / "london"), report


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    return np.stack([landmarks[36:42].mean(0), landmarks[42:48].mean(0)])


def test_london_keeps_nearly_every_face(london_dataset) -> None:
    dataset, report = london_dataset
    assert len(report.kept) >= 200 and len(dataset.faces) >= 200
    assert len(dataset.faces) == len({f["source_sha256"] for f in dataset.faces})
    for face in dataset.faces:
        image = dataset.root / face["image"]
        assert sha256_file(image) == face["sha256"]
        with Image.open(image) as im:
            assert im.size == (256, 256) and im.mode == "RGB"
        assert len(face["embedding"]) == 128 and face["detector_score"] > 0
    assert (dataset.root / "contact.png").is_file()
    saved = json.loads((dataset.root / "report.json").read_text())
    assert len(saved["kept"]) == len(report.kept)


def test_london_eyes_land_where_ffhq_puts_them(london_dataset, analyzer: FaceAnalyzer) -> None:
    """Landmarks found again on each aligned face sit within 3% of the width of FFHQ's target for them."""
    dataset, _ = london_dataset
    errors, aligned_eyes = [], []
    for face in dataset.faces:
        with Image.open(face["source"]) as im:
            source = np.asarray(im.convert("RGB"))
        detected = analyzer.detect(source)[0]
        quad = ffhq_quad(detected.landmarks)
        assert np.allclose(quad, face["quad"], atol=0.01)
        target = to_aligned(quad, eye_centres(detected.landmarks), 256)
        aligned = np.asarray(Image.open(dataset.root / face["image"]).convert("RGB"))
        found = analyzer.detect(aligned)
        assert found, f"no face found again in {face['image']}"
        eyes = eye_centres(found[0].landmarks)
        errors.append(np.abs(eyes - target).max() / 256)
        aligned_eyes.append(eyes / 256)
    assert max(errors) < 0.03, f"worst eye offset {max(errors):.3f} of the width"
    mean = np.mean(aligned_eyes, axis=0)  # FFHQ's frame: eyes level, a quarter of the width apart, just above centre
    assert abs(mean[0, 1] - mean[1, 1]) < 0.01
    assert 0.2 < mean[1, 0] - mean[0, 0] < 0.3 and 0.35 < mean[:, 1].mean() < 0.5


def test_london_credits_are_carried(london_dataset) -> None:
    dataset, _ = london_dataset
    for face in dataset.faces:
        assert "Face Research Lab London Set" in face["credit"]["author"]
        assert face["credit"]["license"] == "CC-BY-4.0"
        assert face["credit"]["source_url"].startswith("https://doi.org/")


def test_rerun_is_incremental(london_dataset) -> None:
    dataset, first = london_dataset
    studio = Studio(dataset.root.parents[1], {})
    again = ingest(Path(dataset.meta["sources"][0]), studio, "london", IngestOptions(resolution=256))
    assert again.kept == [] and again.rejected == [] and again.already == len(first.kept)
    assert Dataset.load(dataset.root).content_hash() == dataset.content_hash()


# --- crafted inputs --------------------------------------------------------------------------------


def png_bomb(path: Path, side: int = 16000) -> None:
    """A small file that declares side x side 8-bit grayscale pixels, all zero (256 M pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def rotated_with_exif(src: Image.Image, path: Path) -> None:
    """Pixels stored turned a quarter (as a phone held sideways does), EXIF orientation 6 to undo it."""
    turned = src.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    turned.save(path, "JPEG", quality=92, exif=exif)


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str | None]]:
    """A folder of bad and awkward inputs, and the reason expected for each (None: kept)."""
    london = sorted(dataset_or_skip("london").glob("*.jpg"))
    root = tmp_path_factory.mktemp("crafted") / "photos"
    (root / "sub" / "deeper").mkdir(parents=True)
    photo = lambda i: Image.open(london[i]).convert("RGB")  # noqa: E731
    expected: dict[str, str | None] = {}

    def put(name: str, reason: str | None) -> Path:
        expected[name] = reason
        return root / name

    put("zero.jpg", "unreadable").write_bytes(b"")
    data = london[0].read_bytes()
    put("truncated.jpg", "unreadable").write_bytes(data[: len(data) * 2 // 5])
    put("notes.jpg", "not_image").write_text("these are my notes, not a photo\n")
    png_bomb(put("bomb.png", "too_large"))
    photo(1).resize((48, 48)).save(put("tiny.png", "too_small"))
    photo(2).convert("CMYK").save(put("cmyk.jpg", None), "JPEG", quality=92)
    gray16 = (np.asarray(photo(3).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(put("sixteen.png", None))
    rotated_with_exif(photo(4), put("sub/rotated.jpg", None))
    rng = np.random.default_rng(0)
    sky = np.linspace(40, 220, 768)[:, None, None] * np.ones((768, 1024, 3)) + rng.normal(0, 6, (768, 1024, 3))
    Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8)).save(put("landscape.png", "no_face"))
    shutil.copy(london[5], put("original.jpg", None))
    shutil.copy(london[5], put("sub/copy-of-original.jpg", "duplicate"))
    photo(5).resize((600, 600), Image.LANCZOS).save(put("sub/deeper/resized-copy.jpg", "duplicate"), "JPEG", quality=80)
    photo(6).crop((30, 30, 1000, 1000)).save(put("sub/deeper/cropped-copy.jpg", "duplicate"), "JPEG", quality=90)
    photo(6).save(put("sub/cropped-original.jpg", None), "JPEG", quality=95)
    photo(7).filter(ImageFilter.GaussianBlur(14)).save(put("blurry.jpg", "blurry"), "JPEG", quality=92)
    canvas = Image.new("RGB", (1600, 1600), (200, 200, 200))
    canvas.paste(photo(8).resize((300, 300), Image.LANCZOS), (650, 650))  # a face of ~150 px: under --min-face 200
    canvas.save(put("far-away.jpg", "face_too_small"), "JPEG", quality=92)
    for i, fmt in enumerate(["webp", "tiff", "bmp", "pgm", "heic"], start=9):
        photo(i).save(put(f"format.{fmt}", None))
    rgba = photo(14).convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 255).transform(rgba.size, Image.EXTENT, (0, 0, 1024, 1024)))
    rgba.save(put("alpha.png", None))
    pair = Image.new("RGB", (2048, 1024))
    pair.paste(photo(15), (0, 0))
    pair.paste(photo(16), (1024, 0))
    pair.save(put("two-people.jpg", None), "JPEG", quality=92)
    (root / "README.txt").write_text("not a photo and not reported\n")
    return root, expected


def source_state(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p): (sha256_file(p), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def test_crafted_inputs_get_the_right_reason(crafted, studio: Studio) -> None:
    root, expected = crafted
    before = source_state(root)
    report = ingest(root, studio, "crafted", IngestOptions(resolution=128, min_face=200))
    assert source_state(root) == before, "a source file was modified"
    got = {Path(item["file"]).relative_to(root).as_posix(): item["reason"] for item in report.rejected}
    got.update({Path(item["file"]).relative_to(root).as_posix(): None for item in report.kept})
    assert got == expected
    faces = {Path(k["file"]).name: k["faces"] for k in report.kept}
    assert faces["two-people.jpg"] == 2
    for item in report.rejected:
        assert item["detail"] and "\n" not in item["detail"]


def ingest_one(photo: Path, studio: Studio, tmp_path: Path) -> np.ndarray:
    folder = tmp_path / photo.stem
    folder.mkdir()
    shutil.copy(photo, folder / photo.name)
    ingest(folder, studio, photo.stem, IngestOptions(resolution=128, workers=1))
    face = Dataset.load(studio.datasets / photo.stem).faces[0]
    return np.asarray(Image.open(studio.datasets / photo.stem / face["image"]), dtype=np.float64)


def test_awkward_formats_decode_to_true_colours(crafted, studio: Studio, tmp_path: Path) -> None:
    """CMYK, 16-bit and EXIF-rotated photos align like their plain originals (not inverted, white or sideways)."""
    root, _ = crafted
    ingest(root, studio, "crafted", IngestOptions(resolution=128))
    dataset = Dataset.load(studio.datasets / "crafted")
    faces = {Path(f["source"]).name: np.asarray(Image.open(dataset.root / f["image"]), dtype=np.float64) for f in dataset.faces}
    london = sorted(dataset_or_skip("london").glob("*.jpg"))
    for name, index in (("cmyk.jpg", 2), ("sixteen.png", 3), ("rotated.jpg", 4)):
        plain = ingest_one(london[index], studio, tmp_path)
        # 16-bit grayscale is compared in gray; an inverted, clipped or sideways face would be far off.
        got, want = (faces[name].mean(-1), plain.mean(-1)) if name == "sixteen.png" else (faces[name], plain)
        assert np.abs(got - want).mean() < 12, name


def test_interrupted_run_loads_and_resumes(london: Path, studio: Studio, tmp_path: Path) -> None:
    photos = copy_faces(london, tmp_path / "few", 6)

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(photos, studio, "few", IngestOptions(resolution=64, workers=1), stop_after_two)
    partial = Dataset.load(studio.datasets / "few")
    assert len(partial.faces) == 2
    resumed = ingest(photos, studio, "few", IngestOptions(resolution=64))
    assert resumed.already == 2 and len(resumed.kept) == 4
    assert len(Dataset.load(studio.datasets / "few").faces) == 6


def test_aligned_input_only_resizes(utk540: Path, studio: Studio, tmp_path: Path) -> None:
    photos = copy_faces(utk540, tmp_path / "utk", 40)
    shutil.copy(sorted(photos.glob("*.jpg"))[0], photos / "again.jpg")
    report = ingest(photos, studio, "utk", IngestOptions(resolution=64, aligned=True))
    dataset = Dataset.load(studio.datasets / "utk")
    assert dataset.aligned_input and len(dataset.faces) == len(report.kept) >= 38
    assert {r["reason"] for r in report.rejected} <= {"duplicate", "blurry"}
    assert any(r["file"].endswith("again.jpg") and r["reason"] == "duplicate" for r in report.rejected)
    face = dataset.faces[0]
    assert face["source_sha256"] == sha256_file(Path(face["source"])) and face["quad"] == [[0, 0], [0, 200], [200, 200], [200, 0]]
    assert Image.open(dataset.root / face["image"]).size == (64, 64)


def test_a_dataset_keeps_its_resolution(london: Path, studio: Studio, tmp_path: Path) -> None:
    photos = tmp_path / "one"
    photos.mkdir()
    shutil.copy(sorted(london.glob("*.jpg"))[0], photos / "a.jpg")
    ingest(photos, studio, "one", IngestOptions(resolution=64))
    with pytest.raises(LatentmintError, match="64 px"):
        ingest(photos, studio, "one", IngestOptions(resolution=128))


def test_a_folder_without_faces_fails_with_the_folder_named(studio: Studio, tmp_path: Path) -> None:
    photos = tmp_path / "empty"
    photos.mkdir()
    (photos / "x.jpg").write_text("nope")
    with pytest.raises(LatentmintError, match="no usable face"):
        ingest(photos, studio, "empty", IngestOptions())
