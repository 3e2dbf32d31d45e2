"""Encoding a walk's frames: GIF, WebP, or MP4 (H.264 through PyAV, whose wheel ships FFmpeg).

GIF keeps small and steady with one palette fitted to the whole walk (no flicker between frames), no
dithering (dither noise defeats LZW), and every pixel whose colour index did not change since the
previous frame written as transparent, which LZW packs into almost nothing.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from latentmint.errors import LatentmintError

FORMATS = ("gif", "webp", "mp4")


TRANSPARENT = 255  # palette slot kept free for "unchanged since the previous frame"


def _shared_palette(frames: list[Image.Image]) -> Image.Image:
    """A 255-colour palette fitted to a strip of frames sampled across the whole walk."""
    step = max(1, len(frames) // 16)
    sample = frames[::step]
    w, h = sample[0].size
    strip = Image.new("RGB", (w, h * len(sample)))
    for i, frame in enumerate(sample):
        strip.paste(frame, (0, i * h))
    return strip.quantize(colors=TRANSPARENT, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _gif(frames: list[Image.Image], duration: int, buf: io.BytesIO) -> None:
    palette = _shared_palette(frames)
    colours = palette.getpalette()[: TRANSPARENT * 3] + [0, 0, 0]
    out, previous = [], None
    for frame in frames:
        index = np.asarray(frame.quantize(palette=palette, dither=Image.Dither.NONE))
        delta = index.copy()
        if previous is not None:
            delta[index == previous] = TRANSPARENT
        previous = index
        im = Image.fromarray(delta, "P")
        im.putpalette(colours)
        out.append(im)
    # disposal 1: each frame is drawn over the last, so transparent pixels show what was there
    out[0].save(buf, "GIF", save_all=True, append_images=out[1:], duration=duration, loop=0, transparency=TRANSPARENT, disposal=1, optimize=False)


def encode(frames: list[Image.Image], fmt: str, fps: int = 24) -> bytes:
    if fmt not in FORMATS:
        raise LatentmintError(f"format {fmt!r}: choose {', '.join(FORMATS)}")
    buf = io.BytesIO()
    duration = round(1000 / fps)
    if fmt == "gif":
        _gif(frames, duration, buf)
    elif fmt == "webp":
        frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=duration, loop=0, quality=85, method=4)
    else:
        _encode_mp4(frames, fps, buf)
    return buf.getvalue()


def _encode_mp4(frames: list[Image.Image], fps: int, buf: io.BytesIO) -> None:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a dependency
        raise LatentmintError("MP4 needs PyAV: pip install av") from exc
    w, h = frames[0].size
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = w + w % 2, h + h % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "medium"}
        for frame in frames:
            if frame.size != (stream.width, stream.height):
                frame = frame.resize((stream.width, stream.height), Image.LANCZOS)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def as_mp4(data: bytes, name: str) -> bytes:
    """An animation (GIF, WebP, or already MP4) as H.264 MP4: what marketplaces play as a token's animation_url."""
    if name.lower().endswith(".mp4"):
        return data
    from PIL import ImageSequence

    try:
        with Image.open(io.BytesIO(data)) as im:
            duration = im.info.get("duration") or 100
            frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
    except (OSError, SyntaxError) as exc:
        raise LatentmintError(f"{name}: not a readable animation ({exc})") from exc
    buf = io.BytesIO()
    _encode_mp4(frames, max(1, round(1000 / duration)), buf)
    return buf.getvalue()


def poster_png(data: bytes, name: str) -> bytes:
    """The first frame of an image or animation as PNG: a token's still `image`."""
    from latentmint.art.fingerprint import still
    from latentmint.images import png_bytes

    return png_bytes(still(data, name))
