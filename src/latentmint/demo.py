"""The main job end to end on a demo studio: every stage that exists so far, rerunnable.

Today: create the artist's identity, ingest the photos, train the 256 px CPU preset (a 64 px face generator,
then its x4 upscaler, both on these photos) for a bounded time, generate 16 works and a looping latent walk
(each checked for originality), keep 12 of the 16, certify those and the walk, mint them on the embedded chain,
list the first token, buy it with a second account (a collector), and verify the original file and a
re-encoded copy of it.
A rerun resumes an unfinished run and skips finished work (works are found again by their IDs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from latentmint.art.generate import generate, walk
from latentmint.art.works import Work, load_work, select_works
from latentmint.chain.market import account_key, add_wallet, buy, fund_wallet, list_token, parse_eth, show, wallet_addresses
from latentmint.chain.mint import mint_works, token_of
from latentmint.chain.network import EMBEDDED, connect
from latentmint.data.ingest import IngestOptions, IngestReport, ingest
from latentmint.errors import LatentmintError
from latentmint.gan.config import make_config
from latentmint.gan.train import TrainResult, train
from latentmint.provenance.certify import certify_work, trust_anchors
from latentmint.provenance.identity import create_identity, unlock
from latentmint.studio import Studio, init_studio
from latentmint.verify import verify_file

# The repository sits beside shared/ on the developers' and CI machines.
DEFAULT_PHOTOS = Path("../shared/datasets/london")
DATASET, RUN = "photos", "demo-256"
PRESET = "faces-256-cpu"  # works a collector can look at: 256 px, the cascade that fits a laptop
ARTIST = "Demo Artist"
# The demo studio's keys are throwaway; LATENTMINT_PASSWORD overrides this for anyone who wants their own.
DEMO_PASSWORD = "latentmint-demo"
KEEP = 12
COLLECTOR, PRICE = "collector", "0.05"


@dataclass
class DemoResult:
    studio: Studio
    ingest: IngestReport
    train: TrainResult | None  # None when an earlier demo already finished training
    works: list[Work]
    walk: Work
    certified: list[Work]
    minted: list[Any]  # chain.mint.Minted, this run's new tokens
    network: Any
    sale: dict[str, Any] | None  # None when an earlier demo already sold the token
    verified: list[tuple[Path, Any]]  # (file, latentmint.verify.Verification)


def default_photos() -> Path:
    if DEFAULT_PHOTOS.is_dir():
        return DEFAULT_PHOTOS
    raise LatentmintError(
        f"{DEFAULT_PHOTOS}: demo photos not found; pass a folder of face photos with --photos DIR (make demo PHOTOS=DIR)"
    )


def run_demo(
    photos: Path | None,
    studio_dir: Path,
    train_seconds: float = 300,
    on_stage: Callable[[str], Callable | None] = lambda stage: None,
) -> DemoResult:
    """`on_stage(name)` returns the progress callback for that stage (or None)."""
    photos = Path(photos) if photos else default_photos()
    if not photos.is_dir():
        raise LatentmintError(f"{photos}: photos folder not found")
    studio = init_studio(studio_dir)
    password = os.environ.get("LATENTMINT_PASSWORD", DEMO_PASSWORD)
    if not (studio.keys / "identity.json").is_file():
        create_identity(studio, ARTIST, password)
    credits = photos / "credits.csv"
    options = IngestOptions(resolution=256, credits=credits if credits.is_file() else None)
    report = ingest(photos, studio, DATASET, options, on_stage("ingest"))

    run_json = studio.runs / RUN / "run.json"
    status = json.loads(run_json.read_text()).get("status") if run_json.is_file() else None
    trained = None
    if status != "completed":
        config = make_config(PRESET, {"time_budget_s": train_seconds, "sample_every": 100, "ckpt_every": 100, "eval_samples": 100})
        resume = (studio.runs / RUN / "checkpoints" / "latest.pt").is_file()
        trained = train(studio, DATASET, RUN, None if resume else config, resume=resume, resume_changes={"time_budget_s": train_seconds}, progress=on_stage("train"))
    works = generate(studio, RUN, list(range(1, 17)), progress=on_stage("generate"))
    animation = walk(studio, RUN, [1, 2, 3, 4], frames=96, loop=True, fmt="gif")
    kept = _curate(studio, works)
    keys = unlock(studio, password)
    update = on_stage("certify")
    certified = []
    for i, work in enumerate([*kept, animation]):
        certified.append(certify_work(studio, load_work(studio, work.id), keys)[0])
        if update:
            update(i + 1, len(kept) + 1)
    net = connect(studio, EMBEDDED)
    unminted = [w for w in certified if token_of(w, net) is None]
    minted = mint_works(studio, net, keys, unminted, progress=on_stage("mint")) if unminted else []
    on_stage("market")
    first = certified[0]
    token_id = int(token_of(first, net)["token_id"])
    sale = _sell(studio, net, keys.eth_key, password, token_id)
    on_stage("verify")
    original = first.root / first.record["certificate"]["file"]
    copy = studio.root / "demo-copy.jpg"  # what a collector might find online: a re-encoded JPEG
    with Image.open(original) as im:
        im.convert("RGB").save(copy, quality=70)
    anchors = trust_anchors(studio)
    verified = [(f, verify_file(studio, net, f, anchors)) for f in (original, copy)]
    return DemoResult(studio, report, trained, works, animation, certified, minted, net, sale, verified)


def _sell(studio: Studio, net: Any, artist_key: bytes, password: str, token_id: int) -> dict[str, Any] | None:
    """List the token at 0.05 ETH and buy it as the "collector" wallet, unless an earlier run did."""
    if COLLECTOR not in wallet_addresses(studio):
        add_wallet(studio, COLLECTOR, password)
    collector = wallet_addresses(studio)[COLLECTOR]
    state = show(studio, net, token_id)
    if state["owner"] == collector:
        return None
    if net.w3.eth.get_balance(collector) < net.w3.to_wei(1, "ether"):
        fund_wallet(studio, net, COLLECTOR)
    if not state["listed"]:
        list_token(studio, net, artist_key, token_id, parse_eth(PRICE))
    return buy(studio, net, account_key(studio, password, COLLECTOR), token_id)


def _curate(studio: Studio, works: list[Work]) -> list[Work]:
    """The demo artist keeps the 12 most original works (no near copies; least like any training face first),
    once: a rerun finds the recorded selection, in the same order."""

    def most_original_first(w: Work) -> tuple:
        return (-(w.record["originality"].get("identity_distance") or 0.0), w.id)

    already = [w for w in works if any(a["action"] == "selected" for a in load_work(studio, w.id).record.get("human_actions", []))]
    if already:
        return sorted(already, key=most_original_first)
    kept = sorted((w for w in works if not w.record["originality"]["near_copy"]), key=most_original_first)[:KEEP]
    select_works(studio, [w.id for w in kept], [w.id for w in works])
    return kept
