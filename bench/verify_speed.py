"""Verification time per file against 10,000 minted works (targets on this machine: exact match < 50 ms,
copy search < 500 ms), and the one-time cost of building the fingerprint index from the chain and store.

The 10,000 works are real renders of a small model trained on utk540, stored with metadata in the block
store and minted by content hash on the embedded chain, exactly as `latentmint mint` lays them out; they
skip the C2PA signing step (about 30 ms each, irrelevant to verification).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from pathlib import Path

from bench.common import median, utk_studio, write_result
from latentmint.art.fingerprint import fingerprint
from latentmint.art.latents import latents
from latentmint.art.model import open_model, render, to_pil
from latentmint.chain.mint import collection_for
from latentmint.chain.network import call_tx, connect, send
from latentmint.gan.config import make_config
from latentmint.gan.train import train
from latentmint.images import png_bytes
from latentmint.storage.cid import digest_of
from latentmint.storage.store import open_store
from latentmint.verify import verify_bytes

WORKS = 10_000
BATCH = 50
SAMPLES = 20


def run() -> list[dict]:
    from eth_account import Account

    with tempfile.TemporaryDirectory() as tmp:
        studio = utk_studio(Path(tmp), 64, count=64)
        train(studio, "faces", "run", make_config("faces-64-cpu", {"steps": 200, "sample_every": 1000, "ckpt_every": 1000}))
        model = open_model(studio, "run")
        net = connect(studio)
        key = net.faucet[0]
        artist = Account.from_key(key).address
        coll = collection_for(studio, net, key, artist, "Bench", 750)
        store = open_store(studio)
        files, pending = [], []
        for start in range(0, WORKS, 500):
            seeds = list(range(start, start + 500))
            for seed, image in zip(seeds, render(model, latents(seeds, model.z_dim), seeds)):
                data = png_bytes(to_pil(image))
                meta = json.dumps({"name": f"work {seed}", "properties": {"fingerprint": fingerprint(to_pil(image))}}).encode()
                pending.append((hashlib.sha256(data).digest(), digest_of(store.put_bytes(meta))))
                if len(files) < SAMPLES:
                    files.append(data)
                if len(pending) == BATCH:
                    hashes, digests = zip(*pending)
                    send(net, key, call_tx(coll, "mintBatch", artist, list(hashes), list(digests)), "mint")
                    pending = []
        started = time.perf_counter()
        verify_bytes(studio, net, files[0], "work.png")  # the first one indexes 10,000 mints and reads their metadata
        index_s = time.perf_counter() - started
        exact, copies, verdicts = [], [], []
        for data in files:
            t = time.perf_counter()
            verdicts.append(verify_bytes(studio, net, data, "work.png").verdict)
            exact.append(time.perf_counter() - t)
            buf = io.BytesIO()
            from PIL import Image

            Image.open(io.BytesIO(data)).save(buf, "JPEG", quality=70)
            t = time.perf_counter()
            verdicts.append(verify_bytes(studio, net, buf.getvalue(), "copy.jpg").verdict)
            copies.append(time.perf_counter() - t)
    rows = [
        {"case": f"exact match among {WORKS:,} tokens (ms, median of {SAMPLES})", "ms": round(median(exact) * 1000, 1), "under_50_ms": median(exact) < 0.05},
        {"case": f"copy search among {WORKS:,} fingerprints (ms, median of {SAMPLES})", "ms": round(median(copies) * 1000, 1), "under_500_ms": median(copies) < 0.5},
        {"case": "first verification: index 10,000 mints + metadata from chain and store (s)", "seconds": round(index_s, 1)},
        {"case": "verdicts right", "right": sum(v == ("AUTHENTIC" if i % 2 == 0 else "COPY") for i, v in enumerate(verdicts)), "of": len(verdicts)},
    ]
    write_result("verify_speed", rows)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
