"""Small image helpers shared by every stage: PNG bytes, contact sheets and grids, sharpness."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image


def media_size(data: bytes, name: str) -> tuple[int, int]:
    """(width, height) of an image or video from its header alone (nothing is decoded); a one-line error
    naming `name` when it is neither."""
    import warnings

    from latentmint.errors import LatentmintError

    if name.lower().endswith((".mp4", ".m4v", ".mov")):
        import av

        try:
            with av.open(io.BytesIO(data)) as container:
                ctx = container.streams.video[0].codec_context
                return ctx.width, ctx.height
        except (av.FFmpegError, IndexError) as exc:
            raise LatentmintError(f"{name}: not a readable video ({exc})") from exc
    try:
        with warnings.catch_warnings():  # PIL warns of bombs; callers decide what size they read
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Image.DecompressionBombError as exc:
        raise LatentmintError(f"{name}: more pixels than any image here reads ({exc}); refused before decoding") from exc
    except (OSError, SyntaxError) as exc:
        raise LatentmintError(f"{name}: not a readable image ({exc})") from exc


def png_bytes(image: Image.Image, **info: str) -> bytes:
    """Lossless PNG, with optional text chunks (key -> value)."""
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    buf = io.BytesIO()
    image.save(buf, "PNG", pnginfo=meta, compress_level=6)
    return buf.getvalue()


def grid(images: Sequence[Image.Image], cell: int, columns: int | None = None, gap: int = 2, background=(24, 24, 24)) -> Image.Image:
    """Tile images (resized to `cell` px squares) into one sheet, row by row."""
    n = max(len(images), 1)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    sheet = Image.new("RGB", (columns * (cell + gap) + gap, rows * (cell + gap) + gap), background)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        sheet.paste(im.convert("RGB").resize((cell, cell), Image.LANCZOS), (gap + c * (cell + gap), gap + r * (cell + gap)))
    return sheet


def sharpness(image: Image.Image) -> float:
    """Variance of the Laplacian over the centre of a 128 px grayscale copy: low means blurry."""
    import numpy as np  # numpy and scipy take a quarter second to import: verifying an original needs neither
    from scipy.ndimage import laplace

    gray = np.asarray(image.convert("L").resize((128, 128), Image.BOX), dtype=np.float64)
    return float(laplace(gray)[32:96, 32:96].var())


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only: no display needed, none opened)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG, atomically, and free it."""
    from latentmint.files import atomic_write_bytes

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
