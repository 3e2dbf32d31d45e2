"""FFHQ alignment on synthetic faces, where the right answer is known exactly."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from latentmint.data.align import align_face, ffhq_quad, quad_size, to_aligned


def synthetic_landmarks(centre=(500.0, 500.0), scale=1.0, angle_deg=0.0) -> np.ndarray:
    """68 points where only the eyes (36-47) and mouth corners (48, 54) matter to the quad."""
    lm = np.zeros((68, 2))
    lm[36:42] = (-50, 0)
    lm[42:48] = (50, 0)
    lm[48] = (-35, 125)
    lm[54] = (35, 125)
    lm[55:68] = (0, 125)
    lm[49:54] = (0, 125)
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return lm @ rot.T * scale + centre


def test_quad_of_an_upright_face() -> None:
    quad = ffhq_quad(synthetic_landmarks())
    # eye-to-eye 100, eye-to-mouth 125: half-side = max(2*100, 1.8*125) = 225, centre 12.5 px below the eyes
    assert np.allclose(quad, [[275, 287.5], [275, 737.5], [725, 737.5], [725, 287.5]])
    assert quad_size(quad) == pytest.approx(450)


@pytest.mark.parametrize("angle", [-25.0, 0.0, 15.0])
@pytest.mark.parametrize("scale", [0.5, 1.0, 1.6])
def test_eyes_land_in_the_same_place_whatever_the_pose(angle: float, scale: float) -> None:
    lm = synthetic_landmarks(scale=scale, angle_deg=angle)
    quad = ffhq_quad(lm)
    eyes = np.stack([lm[36:42].mean(0), lm[42:48].mean(0)])
    assert np.allclose(to_aligned(quad, eyes, 256), to_aligned(ffhq_quad(synthetic_landmarks()), np.stack([[450, 500], [550, 500]]), 256))


@pytest.mark.parametrize("centre", [(500.0, 500.0), (180.0, 200.0)])  # the second leaves the photo: padding
def test_pixels_follow_the_quad(centre: tuple[float, float]) -> None:
    lm = synthetic_landmarks(centre=centre, scale=0.8, angle_deg=12)
    image = Image.new("RGB", (1000, 1000), (90, 90, 90))
    draw = ImageDraw.Draw(image)
    eyes = [lm[36:42].mean(0), lm[42:48].mean(0)]
    for (x, y), colour in zip(eyes, [(255, 0, 0), (0, 0, 255)]):
        draw.ellipse((x - 12, y - 12, x + 12, y + 12), fill=colour)
    quad = ffhq_quad(lm)
    out = np.asarray(align_face(image, quad, 256), dtype=np.float64)
    expected = to_aligned(quad, np.stack(eyes), 256)
    for channel, (ex, ey) in zip((0, 2), expected):
        other = 2 - channel
        mask = (out[..., channel] > 180) & (out[..., other] < 80)
        ys, xs = np.nonzero(mask)
        assert mask.sum() > 20
        assert abs(xs.mean() + 0.5 - ex) < 1.5 and abs(ys.mean() + 0.5 - ey) < 1.5
