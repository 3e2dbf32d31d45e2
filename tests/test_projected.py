"""The Projected GAN discriminator: our EfficientNet-Lite0 reproduces the reference implementation on the
shipped ImageNet weights, stays frozen while the generator learns through it, and every run and certificate
names the pretrained network it used."""

from __future__ import annotations

import json

import pytest
import torch

from latentmint.art.generate import generate
from latentmint.data.ingest import IngestOptions, ingest
from latentmint.files import sha256_file
from latentmint.gan.checkpoint import load_checkpoint
from latentmint.gan.config import make_config
from latentmint.gan.networks import build
from latentmint.gan.projected import EfficientNetLite0, PairedDiscriminator, ProjectedDiscriminator, weights_file
from latentmint.gan import train as train_module
from latentmint.gan.train import train
from latentmint.provenance.certify import certify_work
from latentmint.provenance.identity import create_identity, unlock
from latentmint.studio import Studio

from conftest import copy_faces

PASSWORD = "correct horse battery"


def test_our_efficientnet_lite0_matches_the_reference_implementation() -> None:
    from efficientnet_lite_pytorch import EfficientNet

    ours = EfficientNetLite0.pretrained()
    reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights_file())).eval()
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        taps = ours(x)
        y = reference._swish(reference._bn0(reference._conv_stem((x - ours.mean) / ours.std)))
        expected = []
        for i, block in enumerate(reference._blocks, 1):
            y = block(y)
            if i in (3, 5, 11, 16):
                expected.append(y)
    assert [t.shape[1] for t in taps] == [24, 40, 112, 320]
    for a, b in zip(taps, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        first = ours(x, taps=2)  # the upscaler's perceptual loss: the same maps, the deeper blocks not run
    assert len(first) == 2 and all(torch.equal(a, b) for a, b in zip(first, taps))


def test_the_backbone_stays_frozen_while_the_generator_learns_through_it() -> None:
    D = ProjectedDiscriminator(64, ndf=16)
    before = {k: v.clone() for k, v in D.backbone.state_dict().items()}
    D.train()
    fake = torch.zeros(4, 3, 64, 64, requires_grad=True)
    logits = D(torch.tanh(fake))
    assert logits.shape == (4, 4)
    (-logits.mean()).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0  # the generator's signal passes through
    assert all(p.grad is None for p in D.backbone.parameters()) and all(p.grad is None for p in D.project.parameters())
    assert all(torch.equal(before[k], v) for k, v in D.backbone.state_dict().items())  # batch-norm statistics too
    assert any(p.grad is not None for p in D.judges.parameters())


def test_the_paired_discriminator_weighs_its_two_judges_and_both_learn() -> None:
    from latentmint.gan.train import _freeze_early_d, _judged

    torch.manual_seed(0)
    _, D = build("fastgan", 64, 32, 8, 8, "own+projected", projected_weight=0.5, projected_view=64)
    assert isinstance(D, PairedDiscriminator)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    D.eval()  # spectral norm's power iteration and batch norm's statistics hold still between the calls compared
    logits, whole, part = D(x, part=1)
    own = D.own(x)
    assert torch.equal(logits[:, : own.shape[1]], own) and logits.shape[1] == own.shape[1] + 4 and whole is not None and part is not None
    # a loss counts the own judge's mean once and the projected judges' mean half as much, whatever their logit counts
    expected = own.mean() + 0.5 * D.projected(x).mean()
    torch.testing.assert_close(_judged(logits, D), expected)
    torch.testing.assert_close(_judged(logits, D, average=True), expected / 1.5)
    before = {k: v.clone() for k, v in D.projected.backbone.state_dict().items()}
    D.train()
    _judged(D(x), D).backward()
    assert all(p.grad is not None for p in [*D.own.stem.parameters(), *D.own.logits.parameters(), *D.projected.judges.parameters()])
    assert all(p.grad is None for p in D.projected.backbone.parameters())  # the pretrained network stays frozen
    assert all(torch.equal(before[k], v) for k, v in D.projected.backbone.state_dict().items())
    _freeze_early_d(D, 1)  # --freeze-d reaches the own judge's blocks
    assert not any(p.requires_grad for p in D.own.stem.parameters()) and all(p.requires_grad for p in D.own.logits.parameters())


@pytest.mark.slow
def test_a_projected_run_and_its_works_certificates_name_the_pretrained_network(studio: Studio, utk540, tmp_path) -> None:
    faces = copy_faces(utk540, tmp_path / "faces", 8)
    ingest(faces, studio, "faces", IngestOptions(resolution=64, aligned=True, workers=1))
    train(studio, "faces", "run", make_config("faces-64-cpu", {"ngf": 8, "ndf": 8, "batch": 4, "steps": 2, "discriminator": "projected", "eval_samples": 8, "sample_seeds": 4}))
    run = json.loads((studio.runs / "run" / "run.json").read_text())
    (named,) = run["pretrained"]
    assert named["sha256"] == sha256_file(weights_file()) and "EfficientNet-Lite0" in named["name"] and named["licence"] == "Apache-2.0"
    create_identity(studio, "Ada Artist", PASSWORD)
    work = generate(studio, "run", [1], None, "cpu")[0]
    certify_work(studio, work, unlock(studio, PASSWORD), allow_near_copy=True)
    record = json.loads((work.root / "creativity.json").read_text())
    assert record["training"]["pretrained_networks"][0]["sha256"] == named["sha256"]


@pytest.mark.slow
def test_r1_trains_through_the_paired_discriminator(studio: Studio, utk540, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # R1's double backward runs through the frozen EfficientNet-Lite0 too, and leaves it frozen.
    monkeypatch.setattr(train_module, "R1_EVERY", 1)
    ingest(copy_faces(utk540, tmp_path / "faces", 8), studio, "faces", IngestOptions(resolution=64, aligned=True, workers=1))
    overrides = {"ngf": 8, "ndf": 8, "batch": 4, "steps": 2, "discriminator": "own+projected", "projected_view": 64, "r1_gamma": 0.05, "eval_samples": 8, "sample_seeds": 4}
    result = train(studio, "faces", "run", make_config("faces-64-cpu", overrides))
    state = load_checkpoint(result.checkpoint)
    backbone = EfficientNetLite0.pretrained().state_dict()
    assert all(torch.isfinite(v.float()).all() for v in state["D"].values())
    assert all(torch.equal(state["D"][f"projected.backbone.{k}"], v) for k, v in backbone.items())
