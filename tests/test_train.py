"""Training on a CPU in seconds: finite losses, a run folder with everything, and exact resume."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from latentmint.data.ingest import IngestOptions, ingest
from latentmint.errors import LatentmintError
from latentmint.gan.augment import AdaptiveP, diff_augment
from latentmint.gan.checkpoint import load_checkpoint, load_generator
from latentmint.gan.config import changed_from_preset, make_config, parse_duration, parse_override, pick_preset
from latentmint.gan.networks import Discriminator, Generator, power_iterate, recalibrate_batchnorm, spectral_norm
from latentmint.gan.runlog import cpu_name
from latentmint.gan import train as train_module
from latentmint.gan.train import StepTimer, bf16_native, lr_scale, r1_penalty, train
from latentmint.studio import Studio

from conftest import copy_faces

TINY = {"ngf": 8, "ndf": 8, "batch": 4, "sample_every": 2, "ckpt_every": 100, "eval_samples": 16, "sample_seeds": 4}


@pytest.fixture
def tiny_studio(studio: Studio, utk540: Path, tmp_path: Path) -> Studio:
    ingest(copy_faces(utk540, tmp_path / "faces", 24), studio, "tiny", IngestOptions(resolution=64, aligned=True, workers=1))
    return studio


def kill_after_two(step: int, total: int, stats: dict) -> None:
    """A progress callback that interrupts a run as Ctrl-C would, once step 2 is done."""
    if step == 2:
        raise KeyboardInterrupt


def params(path: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path)
    return {f"{net}.{k}": v for net in ("G", "D", "G_ema") for k, v in state[net].items()}


@pytest.mark.parametrize("resolution", [64, 128, 256])
def test_networks_make_images_of_the_right_size(resolution: int) -> None:
    G, D = Generator(resolution, z_dim=32, ngf=8), Discriminator(resolution, ndf=8)
    images = G(torch.randn(2, 32))
    assert images.shape == (2, 3, resolution, resolution) and images.abs().max() <= 1
    logits, whole, part = D(images, part=3)
    assert logits.shape[0] == 2 and whole.shape[-1] == D.rec_res == part.shape[-1]


def test_our_spectral_norm_is_torchs_bit_for_bit_in_eager_mode() -> None:
    torch.manual_seed(0)
    ours, theirs = spectral_norm(torch.nn.Conv2d(4, 1, 3)), torch.nn.utils.spectral_norm(torch.nn.Conv2d(4, 1, 3))
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 8, 8)
    for _ in range(3):  # each training-mode call iterates u and v
        assert torch.equal(ours(x), theirs(x))
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert all(torch.equal(ours.state_dict()[k], theirs.state_dict()[k]) for k in ours.state_dict())


def test_a_compiled_discriminator_runs_twice_before_one_backward() -> None:
    # GAN steps call D on reals and on fakes, then backward once. torch's spectral norm breaks that under
    # inductor (its power iteration is recomputed in backward from an overwritten buffer); ours iterates
    # outside the compiled graph, once per step.
    torch.manual_seed(0)
    D = torch.nn.Sequential(spectral_norm(torch.nn.Conv2d(3, 8, 3)), torch.nn.LeakyReLU(0.2), spectral_norm(torch.nn.Conv2d(8, 1, 3)))
    D_run = torch.compile(D)
    real, fake = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    for _ in range(2):
        power_iterate(D)
        u = D[2].weight_u.clone()
        (D_run(real).mean() - D_run(fake).mean()).backward()
        assert torch.equal(D[2].weight_u, u)  # compiled calls read the vectors, they do not move them
    assert D[0].weight_orig.grad is not None and torch.isfinite(D[0].weight_orig.grad).all()


def test_batch_norm_recalibration_gives_the_generator_statistics_of_its_own_weights() -> None:
    torch.manual_seed(0)
    G = Generator(64, z_dim=32, ngf=8).eval()  # fresh running statistics (0, 1): another network's, in effect
    z = torch.randn(256, 32)
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]

    def batch_statistics_output() -> torch.Tensor:
        twin = copy.deepcopy(G)  # batch norms in training mode update their statistics: leave G's alone
        for m in twin.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.train()
        with torch.no_grad():
            return twin(z)

    def gap() -> float:
        with torch.no_grad():
            return float((G(z) - batch_statistics_output()).abs().mean())

    before = gap()
    sn_buffers = {k: v.clone() for k, v in G.state_dict().items() if k.endswith(("weight_u", "weight_v"))}
    rng = torch.get_rng_state()
    recalibrate_batchnorm(G, samples=512, batch=64, seed=3)
    assert torch.equal(torch.get_rng_state(), rng) and not G.training and all(not m.training for m in norms)
    after, first = gap(), {k: v.clone() for k, v in G.state_dict().items() if "running" in k}
    assert after < before / 5, (before, after)
    assert all(torch.equal(G.state_dict()[k], v) for k, v in sn_buffers.items())  # spectral norm did not iterate
    recalibrate_batchnorm(G, samples=512, batch=64, seed=3)
    assert all(torch.equal(G.state_dict()[k], v) for k, v in first.items())  # a second pass changes nothing


def test_augmentation_keeps_shape_and_gradients_and_p0_is_identity() -> None:
    x = torch.randn(8, 3, 64, 64, requires_grad=True)
    assert torch.equal(diff_augment(x, 0.0), x)
    y = diff_augment(x, 1.0)
    assert y.shape == x.shape and not torch.equal(y, x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_adaptive_p_rises_when_d_overfits_and_falls_otherwise() -> None:
    ada = AdaptiveP(p=0.5, interval=4, speed_images=1000)
    for _ in range(4):
        ada.observe(0.9)
    ada.step(batch=16)
    assert ada.p > 0.5
    high = ada.p
    for _ in range(4):
        ada.observe(0.1)
    ada.step(batch=16)
    assert ada.p < high


def test_adaptive_p_fed_device_tensors_moves_exactly_as_fed_floats() -> None:
    """The loop hands ADA tensors so the GPU is read once an interval; the controller must not move differently."""
    signals = 0.4 + 0.4 * torch.rand(37, generator=torch.Generator().manual_seed(0))  # float32 around the target 0.6
    by_float, by_tensor = AdaptiveP(p=0.5, interval=4, speed_images=2000), AdaptiveP(p=0.5, interval=4, speed_images=2000)
    for rt in signals:
        by_float.observe(float(rt))
        by_tensor.observe(rt)
        by_float.step(batch=16)
        by_tensor.step(batch=16)
        assert by_tensor.state_dict() == by_float.state_dict()
    assert 0 < by_float.p < 1 and by_float.p != 0.5 and by_float.state_dict()["count"] == 1  # it moved both ways; mid-interval state


def test_the_step_timer_reads_losses_on_logged_steps_and_times_every_step() -> None:
    timer = StepTimer(torch.device("cpu"))
    reads = []
    for step in range(1, 26):
        timer.start()
        if timer.stop(step, {"loss": torch.tensor(float(step))}):
            reads.append(step)
            assert timer.readings == {"loss": float(step)} and len(timer.times) == step
    assert reads == [1, 10, 20] and len(timer.times) == 20
    timer.flush()  # the five steps after the last reading still count
    assert len(timer.times) == 25 and all(t > 0 for t in timer.times)


def test_presets_and_overrides() -> None:
    assert pick_preset(64, "cpu") == "faces-64-cpu" and pick_preset(512, "cpu") == "faces-512" and pick_preset(256, "cuda") == "faces-256"
    config = make_config("faces-64-cpu", dict([parse_override("lr_g=1e-4"), parse_override("augment=color,cutout"), parse_override("xflip=false")]))
    assert changed_from_preset(config) == {"lr_g": 1e-4, "augment": ("color", "cutout"), "xflip": False}
    budget = make_config("faces-256-cpu", {"time_budget_s": 3600})  # the budget decides, not the preset's step counts ...
    plain = make_config("faces-256-cpu", {})
    assert budget.upscale_steps > 3600 * 1000 and budget.steps > plain.steps == 2600 and budget.upscale_steps > plain.upscale_steps
    # ... up to the CPU generator's cap (past it the discriminator learns the photos), which a GPU preset does not have
    assert budget.steps < 3600 * 10 and make_config("faces-256", {"time_budget_s": 3600}).steps > 3600 * 1000
    assert make_config("faces-256-cpu", {"time_budget_s": 3600, "steps": 500}).steps == 500  # whichever comes first
    assert changed_from_preset(budget) == {"time_budget_s": 3600}
    assert parse_duration("1h30m") == 5400 and parse_duration("90s") == 90 and parse_duration("30m") == 1800
    with pytest.raises(LatentmintError):
        parse_duration("soon")
    with pytest.raises(LatentmintError, match="unknown setting"):
        parse_override("learning_rate=3")


def test_a_tiny_run_trains_and_leaves_a_complete_run_folder(tiny_studio: Studio) -> None:
    result = train(tiny_studio, "tiny", "run", make_config("faces-64-cpu", {**TINY, "steps": 4}))
    assert result.steps == 4 and result.device == "cpu" and result.seconds_per_step > 0
    run = result.run
    doc = json.loads((run / "run.json").read_text())
    assert doc["status"] == "completed" and doc["dataset"]["faces"] == 24 and doc["config"]["ngf"] == 8
    assert doc["dataset"]["hash"] and doc["code"]["latentmint"] and doc["changed_from_preset"]["ngf"] == 8
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and len(rows) >= 2
    losses = [float(x) for x in rows[1].split(",")[2:5]]
    assert all(torch.isfinite(torch.tensor(losses)))
    import csv

    closing = [r for r in csv.DictReader((run / "metrics.csv").open()) if r.get("fid_train")]
    assert closing and float(closing[-1]["fid_train"]) > 0 and closing[-1]["kid_train"]  # FID/KID on the standard Inception, by default
    last = json.loads((run / "evaluations.jsonl").read_text().splitlines()[-1])  # and the faces' variety beside them
    assert 0 <= last["precision_train"] <= 1 and 0 <= last["recall_train"] <= 1 and last["samples"] == 16
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000002.png", "step-000004.png"]
    assert (run / "loss.png").stat().st_size > 1000 and any((run / "tensorboard").iterdir())
    G, _ = load_generator(result.checkpoint)
    assert G(torch.randn(2, G.z_dim)).shape == (2, 3, 64, 64)
    state = load_checkpoint(result.checkpoint)  # G_ema's statistics were measured for its own weights, not copied from G
    assert not torch.equal(state["G_ema"]["init.1.running_mean"], state["G"]["init.1.running_mean"])


def test_the_loss_curve_shows_each_stage_that_ran(tmp_path: Path) -> None:
    import warnings

    from PIL import Image

    from latentmint.gan.runlog import RunLog

    def curve_height(name: str, stages: list[str]) -> int:
        log = RunLog(tmp_path / name)
        for step in range(1, 41):
            if "generator" in stages:
                log._csv_row(step, {"loss_d": 1.5 - step / 40, "loss_g": 0.5 + step / 80, "loss_rec": 0.3, "p": 0.2})
            if "upscaler" in stages:
                log._csv_row(100 + step, {"loss_l1": 0.05 / step, "loss_perceptual": 5.0 - step / 20})
        log.metric(40, {"swd_train": 60.0, "samples": 16})  # an evaluation row: metrics only, no loss
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty legend or panel warns
            with Image.open(log.loss_curve()) as im:
                return im.height

    single, cascade, forked = curve_height("single", ["generator"]), curve_height("cascade", ["generator", "upscaler"]), curve_height("forked", ["upscaler"])
    assert cascade > single > forked  # the upscaler's panel is added; a run that only upscaled has only it
    assert RunLog(tmp_path / "empty").loss_curve() is None


def test_resume_after_a_kill_gives_the_same_next_step(tiny_studio: Studio) -> None:
    config = make_config("faces-64-cpu", {**TINY, "steps": 3, "lr_decay": 0.5})  # the schedule resumes too
    straight = train(tiny_studio, "tiny", "straight", config)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_studio, "tiny", "killed", config, progress=kill_after_two)
    assert load_checkpoint(tiny_studio.runs / "killed" / "checkpoints" / "latest.pt")["step"] == 2
    assert json.loads((tiny_studio.runs / "killed" / "run.json").read_text())["status"] == "interrupted"
    resumed = train(tiny_studio, "tiny", "killed", None, resume=True)
    assert resumed.steps == 3
    a, b = params(straight.checkpoint), params(resumed.checkpoint)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run diverged from the uninterrupted one"
    # The last step (2 of 3 done) ran at a third of the way into the decay's half: 2/3 of the preset's rate.
    last_lr = load_checkpoint(resumed.checkpoint)["opt_g"]["param_groups"][0]["lr"]
    assert last_lr == pytest.approx(config.lr_g * 2 / 3)


def test_instance_discrimination_resumes_exactly_with_its_heads_queues_and_momentum_d(tiny_studio: Studio) -> None:
    config = make_config("faces-64-cpu", {**TINY, "steps": 3, "instance_weight": 1.0})
    straight = train(tiny_studio, "tiny", "straight", config)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_studio, "tiny", "killed", config, progress=kill_after_two)
    resumed = train(tiny_studio, "tiny", "killed", None, resume=True)
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    for net in ("G", "D", "G_ema", "instance"):
        assert a[net].keys() == b[net].keys()
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net]), f"{net}: resumed run diverged from the uninterrupted one"
    # Three steps of 4 keys went round a queue of 8 (two batches); the key D followed D a little, not all the way.
    assert int(a["instance"]["real.ptr"]) == 3 * 4 % 8
    key_w, w = a["instance"]["key_D.logits.3.weight_orig"], a["D"]["logits.3.weight_orig"]
    assert not torch.equal(key_w, w)
    plain = load_checkpoint(train(tiny_studio, "tiny", "plain", dataclasses.replace(config, instance_weight=0.0)).checkpoint)
    assert "instance" not in plain and not torch.equal(plain["G"]["to_rgb.weight_orig"], a["G"]["to_rgb.weight_orig"])


def test_instance_heads_prefer_each_query_s_own_key_and_queue_the_keys() -> None:
    from latentmint.gan.instance import InstanceDiscrimination

    torch.manual_seed(0)
    instance = InstanceDiscrimination(Discriminator(64, ndf=8), data_size=540, batch=16)
    assert instance.real.queue.shape[0] == 32  # 5% of 540 is 27: at least two batches
    feats = torch.randn(6, instance.real.mlp[0].in_features, 8, 8)
    keys = instance.real.keys(feats)
    assert instance.real.loss(feats, keys) < instance.real.loss(feats, keys.roll(1, 0))
    instance.real.follow(keys)
    assert torch.equal(instance.real.queue[:6], keys) and int(instance.real.ptr) == 6


def test_a_step_with_instance_discrimination_draws_the_generator_once() -> None:
    """A fake's key comes from a second view of the step's own fake: a second draw made a CPU step 20-45% dearer."""
    from latentmint.gan.instance import InstanceDiscrimination
    from latentmint.gan.networks import build

    config = make_config("faces-64-cpu", {**TINY, "instance_weight": 1.0})
    torch.manual_seed(0)
    G, D = build(config.arch, 64, config.z_dim, config.ngf, config.ndf)
    instance = InstanceDiscrimination(D, data_size=24, batch=config.batch)
    opt_g = torch.optim.Adam(G.parameters())
    opt_d = torch.optim.Adam([*D.parameters(), *instance.head_parameters()])
    draws = []
    G.register_forward_hook(lambda module, args, out: draws.append(out.shape[0]))
    ada, autocast = AdaptiveP(p=0.3, target=0.6, speed_images=1000), torch.autocast("cpu", enabled=False)
    losses = train_module._train_step(G, D, G, D, opt_g, opt_d, torch.rand(4, 3, 64, 64) * 2 - 1, config, ada, autocast, train_module.Dist(), instance)
    assert draws == [4] and torch.isfinite(losses["loss_d"]) and int(instance.fake.ptr) == 4


def test_an_unknown_augmentation_is_refused_before_training(studio: Studio) -> None:
    config = make_config("faces-64-cpu", dict([parse_override("augment=translation,rotate")]))
    with pytest.raises(LatentmintError, match=r"augment: unknown transform 'rotate'; choose from color, translation"):
        train(studio, "faces", "r", config)
    assert not (studio.runs / "r").exists()


def test_instance_discrimination_needs_fastgan_s_own_discriminator(studio: Studio) -> None:
    config = make_config("faces-64-cpu", {"instance_weight": 1.0, "discriminator": "projected"})
    with pytest.raises(LatentmintError, match="instance_weight"):
        train(studio, "faces", "r", config)


def test_the_cascade_preset_drops_its_instance_heads_when_another_discriminator_is_chosen() -> None:
    assert make_config("faces-256-cpu", {"time_budget_s": 60}).instance_weight == 1.0
    for discriminator in ("projected", "own+projected"):
        assert make_config("faces-256-cpu", {"discriminator": discriminator}).instance_weight == 0.0
    assert make_config("faces-256-cpu", {"instance_weight": 0.5, "discriminator": "projected"}).instance_weight == 0.5
    # what the run records as the artist's changes: the discriminator, not the heads it implies dropping
    assert changed_from_preset(make_config("faces-256-cpu", {"discriminator": "projected"})) == {"discriminator": "projected"}
    assert changed_from_preset(make_config("faces-256-cpu", {"instance_weight": 0.5})) == {"instance_weight": 0.5}


def test_r1_penalty_is_the_squared_gradient_of_the_verdict_and_differentiable() -> None:
    torch.manual_seed(0)
    W = torch.randn(3, 2, 4, 4, requires_grad=True)  # a linear D with 3 patch logits: its verdict's gradient is their mean
    x = torch.randn(5, 2, 4, 4, requires_grad=True)
    penalty = r1_penalty(torch.einsum("nchw,kchw->nk", x, W), x, D=None)
    w_bar = W.detach().mean(0)
    assert penalty.item() == pytest.approx(w_bar.square().sum().item(), rel=1e-5)
    penalty.backward()  # and D can descend it: d|w_bar|^2/dW_k = 2 w_bar / 3
    assert torch.allclose(W.grad, (2 * w_bar / 3).expand_as(W), atol=1e-5)
    # Several judges (PairedDiscriminator): the verdict is their weighted mean, as the hinge loss weighs them.
    weights = torch.tensor([1.0, 0.25, 0.25])
    weighted = r1_penalty(torch.einsum("nchw,kchw->nk", x, W), x, D=SimpleNamespace(column_weights=weights))
    w_hat = (W.detach() * weights[:, None, None, None]).sum(0) / weights.sum()
    assert weighted.item() == pytest.approx(w_hat.square().sum().item(), rel=1e-5) and weighted.item() != pytest.approx(penalty.item(), rel=1e-2)


def test_r1_steps_change_d_and_resume_exactly(tiny_studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "R1_EVERY", 1)  # R1 on every step (still drawn from the run's RNG, as it resumes)
    config = make_config("faces-64-cpu", {**TINY, "steps": 4, "r1_gamma": 50.0})
    without = params(train(tiny_studio, "tiny", "plain", dataclasses.replace(config, r1_gamma=1e-30)).checkpoint)  # same draws, ~no penalty
    straight = params(train(tiny_studio, "tiny", "straight", config).checkpoint)
    assert any(not torch.equal(without[k], straight[k]) for k in without if k.startswith("D.")), "the penalty never reached D"
    assert all(torch.isfinite(v.float()).all() for v in straight.values())
    with pytest.raises(KeyboardInterrupt):
        train(tiny_studio, "tiny", "killed", config, progress=kill_after_two)
    resumed = params(train(tiny_studio, "tiny", "killed", None, resume=True).checkpoint)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight), "resumed run diverged from the uninterrupted one"


def test_r1_steps_train_under_torch_compile(tiny_studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    # Double backward cannot go through a compiled D, nor can one backward mix it with eager calls of the same D.
    monkeypatch.setattr(train_module, "R1_EVERY", 1)
    result = train(tiny_studio, "tiny", "compiled", make_config("faces-64-cpu", {**TINY, "steps": 2, "compile": True, "r1_gamma": 0.05}))
    assert result.steps == 2 and all(torch.isfinite(v.float()).all() for v in params(result.checkpoint).values())


def test_lr_decay_holds_the_rate_then_falls_linearly_to_zero() -> None:
    assert [lr_scale(0.25, p) for p in (0.0, 0.5, 0.75, 0.875, 1.0, 1.2)] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.0, 0.0])


def test_bfloat16_autocast_where_native_and_recorded_in_run_json(tiny_studio: Studio) -> None:
    native = bf16_native(torch.device("cpu"))
    runs = {amp: train(tiny_studio, "tiny", f"amp-{amp}", make_config("faces-64-cpu", {**TINY, "steps": 2, "amp": amp})) for amp in (True, False)}
    devices = {amp: json.loads((r.run / "run.json").read_text())["device"] for amp, r in runs.items()}
    assert {amp: d["precision"] for amp, d in devices.items()} == {True: "bfloat16 autocast" if native else "float32", False: "float32"}
    assert {d["name"] for d in devices.values()} == {cpu_name()}  # which processor ran it, as cpu_name reads it
    a, b = params(runs[True].checkpoint), params(runs[False].checkpoint)
    assert all(torch.isfinite(v.float()).all() for v in a.values())
    # Same seed, same data: the weights differ only if the bf16 run really computed in bf16.
    assert any(not torch.equal(a[k], b[k]) for k in a) == native


def test_cpu_name_gives_the_model_its_family_numbers_and_vector_units(tmp_path: Path) -> None:
    # Two processors as a virtual machine reports them: the same model name, several-fold apart in speed.
    zen3 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n\nprocessor\t: 1\n"
    zen4 = zen3.replace("model\t\t: 1", "model\t\t: 17").replace("avx2 fma", "avx2 fma avx512f avx512_bf16")
    (tmp_path / "zen3").write_text(zen3)
    (tmp_path / "zen4").write_text(zen4)
    assert cpu_name(tmp_path / "zen3") == "AMD EPYC (family 25, model 1; AVX2)"
    assert cpu_name(tmp_path / "zen4") == "AMD EPYC (family 25, model 17; AVX2, AVX-512, AVX512-BF16)"
    assert cpu_name(tmp_path / "missing")  # elsewhere: what Python's platform module knows


def test_existing_run_needs_resume(tiny_studio: Studio) -> None:
    config = make_config("faces-64-cpu", {**TINY, "steps": 1})
    train(tiny_studio, "tiny", "once", config)
    with pytest.raises(LatentmintError, match="--resume"):
        train(tiny_studio, "tiny", "once", config)


def test_init_from_transfers_matching_weights(tiny_studio: Studio) -> None:
    config = make_config("faces-64-cpu", {**TINY, "steps": 1})
    first = train(tiny_studio, "tiny", "base", config)
    second = train(tiny_studio, "tiny", "tuned", make_config("faces-64-cpu", {**TINY, "steps": 1, "freeze_d": 1}), init_from=first.checkpoint)
    doc = json.loads((second.run / "run.json").read_text())
    assert doc["init_from"] == str(first.checkpoint) and doc["transferred_tensors"]["G"] > 10
    with pytest.raises(LatentmintError, match="no generator weights fit"):
        train(tiny_studio, "tiny", "wide", make_config("faces-64-cpu", {**TINY, "steps": 1, "ngf": 16}), init_from=first.checkpoint)


def test_corrupt_and_foreign_checkpoints_are_refused_clearly(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 this is not a checkpoint")
    with pytest.raises(LatentmintError, match="garbage.pt: not a readable checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": torch.zeros(3)}, foreign)
    with pytest.raises(LatentmintError, match="foreign.pt: not a latentmint checkpoint"):
        load_checkpoint(foreign)
    truncated = tmp_path / "truncated.pt"
    torch.save({"format": "latentmint.checkpoint/1", "G": {"w": torch.randn(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:500])
    with pytest.raises(LatentmintError, match="not a readable checkpoint"):
        load_checkpoint(truncated)
    with pytest.raises(LatentmintError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_lower_resolution_trains_on_resampled_faces(studio: Studio, utk540: Path, tmp_path: Path) -> None:
    ingest(copy_faces(utk540, tmp_path / "faces", 12), studio, "big", IngestOptions(resolution=128, aligned=True, workers=1))
    result = train(studio, "big", "small", make_config("faces-64-cpu", {**TINY, "steps": 1}))
    G, state = load_generator(result.checkpoint)
    assert state["config"]["resolution"] == 64 and G(torch.randn(1, G.z_dim)).shape[-1] == 64
    with pytest.raises(LatentmintError, match="faces are 128 px"):
        train(studio, "big", "too-big", make_config("faces-256-cpu", {**TINY, "steps": 1}))
