"""The embedded chain and the store: mints per second (single and batched), the time to reopen a chain
holding 10,000 tokens in a new process (target: under 2 s), and CID throughput in MB/s."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eth_account import Account

from bench.common import median, write_result
from latentmint.chain.embedded import open_embedded
from latentmint.chain.network import Network, call_tx, contract, deploy, send
from latentmint.storage.cid import cid_of_bytes

TOKENS = 10_000
BATCH = 50
REOPEN = (
    "import sys, time; t = time.perf_counter(); from latentmint.chain.embedded import open_embedded; "
    "w3, _ = open_embedded(sys.argv[1]); n = w3.eth.block_number; print(time.perf_counter() - t)"
)


def _h(tag: str, i: int) -> bytes:
    return hashlib.sha256(f"{tag}{i}".encode()).digest()


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "chain"
        w3, keys = open_embedded(folder)
        net = Network(w3, "embedded", w3.eth.chain_id, keys)
        artist = Account.from_key(keys[0]).address
        coll = contract(net, "LatentmintCollection", deploy(net, keys[0], "LatentmintCollection", "Bench", "LMNT", artist, artist, 750, "")["contractAddress"])
        started = time.perf_counter()
        singles = BATCH  # so that singles + batches make exactly TOKENS
        for i in range(singles):
            send(net, keys[0], call_tx(coll, "mint", artist, _h("s", i), _h("m", i)), "mint")
        single_rate = singles / (time.perf_counter() - started)
        started = time.perf_counter()
        batches = (TOKENS - singles) // BATCH
        for b in range(batches):
            ids = range(b * BATCH, (b + 1) * BATCH)
            send(net, keys[0], call_tx(coll, "mintBatch", artist, [_h("b", i) for i in ids], [_h("n", i) for i in ids]), "batch")
        batch_rate = batches * BATCH / (time.perf_counter() - started)
        total = coll.functions.balanceOf(artist).call()
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        reopen = [float(subprocess.run([sys.executable, "-c", REOPEN, str(folder)], capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    rows.append({"case": "mint, one per transaction", "mints_per_s": round(single_rate, 1)})
    rows.append({"case": f"mintBatch of {BATCH}", "mints_per_s": round(batch_rate, 1)})
    rows.append({"case": f"reopen a chain of {total:,} tokens ({size_mb:.0f} MB) in a new process", "seconds": round(median(reopen), 2), "under_2_s": median(reopen) < 2.0})
    data = os.urandom(64 << 20)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        cid_of_bytes(data)
        times.append(time.perf_counter() - t)
    rows.append({"case": "CIDv1 of a 64 MiB file", "mb_per_s": round(len(data) / 1e6 / median(times), 1)})
    write_result("chain_speed", rows)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
