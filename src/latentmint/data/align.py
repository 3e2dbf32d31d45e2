"""FFHQ-style face alignment (Karras et al., the procedure behind FFHQ), as a fast and pure function.

From 68 landmarks: the eye centres and mouth corners define an oriented square (the quad); the photo
is shrunk when the quad is much larger than the output, cropped with a border, padded by reflection
(blurred and faded to the median colour) where the quad leaves the photo, and resampled with
anti-aliasing. FFHQ resampled to 4096 px first; a 2x supersample gives the same result for our sizes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The oriented square to crop, as (top-left, bottom-left, bottom-right, top-right) corners."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eye_left, eye_right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def quad_size(quad: np.ndarray) -> float:
    """Side length of the quad in source pixels."""
    return float(np.hypot(*(quad[3] - quad[0])))


def to_aligned(quad: np.ndarray, points: np.ndarray, size: int) -> np.ndarray:
    """Where source-pixel `points` land in the aligned `size` x `size` image."""
    origin, ex, ey = quad[0], quad[3] - quad[0], quad[1] - quad[0]
    basis = np.stack([ex, ey], axis=1) / size
    return np.linalg.solve(basis, (np.asarray(points, dtype=np.float64) - origin).T).T


def align_face(image: Image.Image, quad: np.ndarray, size: int, padding: bool = True) -> Image.Image:
    """Crop and resample the quad of an RGB `image` to a `size` x `size` aligned face."""
    img = image
    quad = np.array(quad, dtype=np.float64)
    qsize = quad_size(quad)

    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        img = img.resize((round(img.width / shrink), round(img.height / shrink)), Image.BOX)
        quad /= shrink
        qsize /= shrink

    border = max(int(np.rint(qsize * 0.1)), 3)
    lo, hi = np.floor(quad.min(axis=0)).astype(int), np.ceil(quad.max(axis=0)).astype(int)
    crop = (max(lo[0] - border, 0), max(lo[1] - border, 0), min(hi[0] + border, img.width), min(hi[1] + border, img.height))
    if crop[2] - crop[0] < img.width or crop[3] - crop[1] < img.height:
        img = img.crop(crop)
        quad -= crop[:2]

    lo, hi = np.floor(quad.min(axis=0)).astype(int), np.ceil(quad.max(axis=0)).astype(int)
    pad = np.array([max(-lo[0] + border, 0), max(-lo[1] + border, 0), max(hi[0] - img.width + border, 0), max(hi[1] - img.height + border, 0)])
    if padding and pad.max() > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        arr = np.pad(np.asarray(img, dtype=np.float32), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w = arr.shape[:2]
        yy, xx = np.ogrid[:h, :w]
        mask = np.maximum(
            1.0 - np.minimum(xx.astype(np.float32) / pad[0], (w - 1 - xx).astype(np.float32) / pad[2]),
            1.0 - np.minimum(yy.astype(np.float32) / pad[1], (h - 1 - yy).astype(np.float32) / pad[3]),
        )[..., None]
        # PIL's blur on 8-bit is ~20x faster than scipy's on float and indistinguishable after the fade.
        blurred = np.asarray(
            Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255))).filter(ImageFilter.GaussianBlur(qsize * 0.02)),
            dtype=np.float32,
        )
        arr += (blurred - arr) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        arr += (np.median(arr, axis=(0, 1)) - arr) * np.clip(mask, 0.0, 1.0)
        img = Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255)), "RGB")
        quad += pad[:2]

    transform_size = size * 2 if qsize > size else size
    img = img.transform((transform_size, transform_size), Image.QUAD, (quad + 0.5).flatten(), Image.BILINEAR)
    if transform_size != size:
        img = img.resize((size, size), Image.LANCZOS)
    return img
