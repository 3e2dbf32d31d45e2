"""Finding photos in a folder tree and decoding them safely into 8-bit RGB.

Every failure becomes a `Rejected` with a reason code, so one bad file never stops a job.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF (iPhone photos) through the maintained pillow-heif wheel
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency, but ingest works without it
    pass

MAX_PIXELS = 100_000_000  # default limit: larger images are refused from their header, before decoding

IMAGE_SUFFIXES = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".dib",
    ".pgm", ".ppm", ".pbm", ".pnm", ".heic", ".heif", ".gif",
}  # fmt: skip

# Leading bytes of the formats above, so a photo saved without its extension is still found.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"II*\x00", b"MM\x00*", b"BM", b"P2", b"P5", b"P6", b"GIF8")


class Reason(str, Enum):
    """Why a file or a face was not kept (the codes scripts see in `--json`)."""

    UNREADABLE = "unreadable"
    NOT_IMAGE = "not_image"
    TOO_SMALL = "too_small"
    NO_FACE = "no_face"
    FACE_TOO_SMALL = "face_too_small"
    BLURRY = "blurry"
    DUPLICATE = "duplicate"
    TOO_LARGE = "too_large"


class Rejected(Exception):
    """A file or face that is not kept, with the reason code and a one-line detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason, detail)  # args make it picklable across worker processes
        self.reason = reason
        self.detail = detail


def _looks_like_image(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head.startswith(_MAGIC) or head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1")


def find_photos(root: Path) -> list[Path]:
    """Every candidate photo under `root` (sub-folders included, hidden entries skipped), sorted.

    A file counts when its extension says image or its first bytes do; other files (a credits.csv,
    a sidecar .xmp) are not photos and are not reported.
    """
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if path.suffix.lower() in IMAGE_SUFFIXES or _looks_like_image(path):
                found.append(path)
    return sorted(found)


def _to_rgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit sRGB from any mode: colour-managed when the file has an ICC profile, alpha flattened on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit grayscale: Pillow's convert() clips at 255, so scale the full range instead.
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    if im.mode == "RGBA":
        im = im.convert("RGB")
    if icc and im.mode in ("RGB", "CMYK", "L"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile is not worth losing the photo: fall back to a plain conversion
    return im.convert("RGB")


def exif_credit(im: Image.Image) -> dict[str, str]:
    """Artist and Copyright from EXIF, when the photographer set them."""
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - malformed EXIF is common and never fatal
        return {}
    out = {}
    for tag, key in ((0x013B, "author"), (0x8298, "copyright")):
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip("\x00 "):
            out[key] = value.strip("\x00 ")
    return out


@dataclass
class Photo:
    image: Image.Image  # 8-bit RGB, upright
    exif_credit: dict[str, str]


def read_photo(path: Path, *, max_pixels: int, min_size: int) -> Photo:
    """Decode `path` into an upright 8-bit RGB image, or raise `Rejected` saying why not.

    The pixel limit is checked from the header, before anything is decompressed, so a
    decompression bomb costs nothing.
    """
    try:
        if os.path.getsize(path) == 0:
            raise Rejected(Reason.UNREADABLE, "empty file (0 bytes)")
    except OSError as exc:
        raise Rejected(Reason.UNREADABLE, f"cannot open: {exc.strerror or exc}") from exc
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own guard, for formats that reveal size late
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected(Reason.TOO_LARGE, str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise Rejected(Reason.NOT_IMAGE, "not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise Rejected(Reason.UNREADABLE, f"cannot open: {exc}") from exc
    with im:
        w, h = im.size
        if w * h > max_pixels:
            raise Rejected(Reason.TOO_LARGE, f"{w}x{h} is over the {max_pixels:,}-pixel limit")
        if min(w, h) < min_size:
            raise Rejected(Reason.TOO_SMALL, f"{w}x{h} is smaller than {min_size} px on its short side")
        try:
            im.seek(0)  # first frame of a multi-page TIFF or animated GIF
            im.load()
            credit = exif_credit(im)
            upright = ImageOps.exif_transpose(im)
            rgb = _to_rgb(upright, im.info.get("icc_profile"))
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise Rejected(Reason.UNREADABLE, f"corrupt or truncated: {exc}") from exc
    return Photo(rgb, credit)
