"""Face detection, 68-point landmarks and 128-d identity embeddings with dlib's pretrained models.

The model files ship in the `face-recognition-models` wheel. That package imports pkg_resources to
find them, so we locate its folder through importlib instead and never import it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentmint.errors import LatentmintError

LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
EMBEDDER = "dlib_face_recognition_resnet_model_v1.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"


def model_path(name: str) -> Path:
    """Path of one of dlib's model files inside the installed face-recognition-models package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LatentmintError("face-recognition-models is not installed: pip install face-recognition-models")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise LatentmintError(f"{path}: dlib model file missing; reinstall face-recognition-models")
    return path


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom in source pixels
    score: float  # detector confidence (HOG margin, or CNN score)
    landmarks: np.ndarray  # (68, 2) float, source pixels

    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


def _scaled(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return rgb
    from PIL import Image

    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(rgb).resize((round(w * scale), round(h * scale)), Image.BILINEAR, reducing_gap=2.0))


class FaceAnalyzer:
    """dlib's detector (HOG, or the CNN for hard poses), landmarks, and face embeddings.

    Detection runs on a copy downscaled to `detect_size` on its long side (fast, and dlib's HOG
    finds faces from 80 px up), then landmarks are fitted on the full-resolution photo.
    """

    def __init__(self, detector: str = "hog", detect_size: int = 512) -> None:
        import dlib  # imported here so that worker processes each load their own copy

        self._dlib = dlib
        if detector == "hog":
            self._detect = dlib.get_frontal_face_detector()
        elif detector == "cnn":
            self._detect = dlib.cnn_face_detection_model_v1(str(model_path(CNN_DETECTOR)))
        else:
            raise LatentmintError(f"unknown face detector {detector!r}: choose hog or cnn")
        self.detector = detector
        self.detect_size = detect_size
        self._landmarks = dlib.shape_predictor(str(model_path(LANDMARKS_68)))
        self._embedder = dlib.face_recognition_model_v1(str(model_path(EMBEDDER)))

    def _run_detector(self, small: np.ndarray, upsample: int) -> list[tuple[tuple[int, int, int, int], float]]:
        if self.detector == "hog":
            rects, scores, _ = self._detect.run(small, upsample, 0.0)
            return [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]
        found = self._detect(small, upsample)
        return [((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()), float(d.confidence)) for d in found]

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Every face in an (H, W, 3) uint8 image, largest first.

        Most photos need one pass at `detect_size`; only when it finds nothing do we look again,
        upsampled, then at up to four times that size, for faces far from the camera.
        """
        h, w = rgb.shape[:2]
        small = min(1.0, self.detect_size / max(h, w))
        large = min(1.0, 4 * self.detect_size / max(h, w))
        passes = [(small, 0), (small, 1)] + ([(large, 0)] if large > 2 * small else [])
        found: list[tuple[tuple[int, int, int, int], float]] = []
        scaled: dict[float, np.ndarray] = {}
        for scale, upsample in passes:
            if scale not in scaled:  # the first two passes share one resized copy
                scaled[scale] = _scaled(rgb, scale)
            found = self._run_detector(scaled[scale], upsample)
            if found:
                break
        faces = []
        for (l, t, r, b), score in found:
            box = (round(l / scale), round(t / scale), round(r / scale), round(b / scale))
            faces.append(Face(box, score, self.landmarks(rgb, box)))
        return sorted(faces, key=Face.size, reverse=True)

    def landmarks(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        shape = self._landmarks(rgb, self._dlib.rectangle(*box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The 128-d identity embedding (by dlib's convention, distance < 0.6 means the same person)."""
        points = [self._dlib.point(int(x), int(y)) for x, y in face.landmarks]  # already fitted by detect()
        shape = self._dlib.full_object_detection(self._dlib.rectangle(*face.box), points)
        return np.asarray(self._embedder.compute_face_descriptor(rgb, shape), dtype=np.float32)
