"""Verification by a stranger in an empty folder (issue 15): nothing but a file, a JSON-RPC node (anvil) and an
IPFS node (js-ipfs 0.66.1, through its gateway and through its RPC API). Times the first call (index the
collection from its deployment block, fetch and hash-check every metadata block, build the cache) and a later
call (the cache reused), each a whole `latentmint verify` process, for the minted original and a JPEG copy.

Needs the npm peers `make test` installs (tests/node, tests/ipfs-node); the nodes run on 127.0.0.1 with
fresh state. Uses the tests' helpers to start them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

PASSWORD = "correct horse battery"


def run() -> list[dict]:
    from conftest import certified_studio, free_port
    from PIL import Image
    from test_mint import ANVIL, ANVIL_KEY, _start_anvil
    from test_public_chain import JSIPFS, js_ipfs

    from bench.common import median, write_result
    from latentmint.art.works import list_works
    from latentmint.chain.network import connect, send
    from latentmint.provenance.identity import unlock
    from latentmint.studio import init_studio, set_settings

    if not ANVIL.exists() or not JSIPFS.exists():
        raise SystemExit("verify_public needs the npm peers: run `make test` once (it installs anvil and js-ipfs)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        studio = certified_studio(root, PASSWORD, works=4)
        port = free_port()
        rpc = f"http://127.0.0.1:{port}"
        node = _start_anvil(port, root / "anvil-state.json")
        try:
            with js_ipfs(root / "ipfs-repo") as (api, gateway):
                studio = set_settings(init_studio(studio.root), {"storage": {"kubo_url": api}})
                net = connect(studio, rpc)
                send(net, ANVIL_KEY, {"to": unlock(studio, PASSWORD).identity.address, "value": 10**19}, "funding the artist")
                env = {**os.environ, "LATENTMINT_PASSWORD": PASSWORD}
                done = subprocess.run([sys.executable, "-m", "latentmint", "mint", "all", "--network", rpc, "--json", "--studio", str(studio.root)], capture_output=True, text=True, env=env, timeout=600)
                minted = json.loads(done.stdout)["minted"]
                collection = next(d for d in json.loads((studio.chain / "deployments.json").read_text()).values() if d.get("network") == rpc)["collection"]
                work = next(w for w in list_works(studio) if w.id == minted[0]["work"])
                original = work.root / work.record["certificate"]["file"]
                copy = root / "found-online.jpg"
                with Image.open(original) as im:
                    im.convert("RGB").save(copy, quality=70)
                empty = root / "empty"
                empty.mkdir()
                for label, ipfs in (("gateway", gateway), ("RPC API", f"{api}/api/v0")):
                    cache = root / f"cache-{label.replace(' ', '-')}"
                    env = {**os.environ, "LATENTMINT_CACHE": str(cache)}
                    timings: dict[str, list[float]] = {"first": [], "later": []}
                    verdicts = []
                    for attempt in range(3):  # the first call of each round starts from an empty cache
                        if attempt:
                            subprocess.run(["rm", "-rf", str(cache)], check=True)
                        for i, f in enumerate((original, copy)):
                            started = time.perf_counter()
                            out = subprocess.run([sys.executable, "-m", "latentmint", "verify", str(f), "--network", rpc, "--collection", collection, "--ipfs", ipfs, "--json"], capture_output=True, text=True, env=env, cwd=empty, timeout=600)
                            timings["first" if i == 0 else "later"].append(time.perf_counter() - started)
                            verdicts.append(json.loads(out.stdout)["verdict"] if out.returncode == 0 else out.stderr.strip()[-200:])
                    rows.append({
                        "case": f"verify in an empty folder through js-ipfs's {label} + anvil ({len(minted)} tokens), s, median of 3",
                        "first_s": round(median(timings["first"]), 2),
                        "later_s": round(median(timings["later"]), 2),
                        "verdicts_right": verdicts == ["AUTHENTIC", "COPY"] * 3,
                    })
        finally:
            node.terminate()
            node.wait(10)
    write_result("verify_public", rows, note="each time is a whole `latentmint verify` process (Python start and imports included)")
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
