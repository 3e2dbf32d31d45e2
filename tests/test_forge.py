"""The contracts' fuzz and invariant tests in Solidity (contracts/forge/), run by Foundry's forge from npm, offline,
compiling with the project's pinned npm solc (contracts/solc-from-npm stands in for a native solc)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORGE = REPO / "tests" / "node" / "node_modules" / ".bin" / "forge"


def test_market_invariants_and_fuzzing_in_forge() -> None:
    if not FORGE.exists():
        pytest.skip("tests/node/node_modules missing: `make test` installs forge with npm")
    if not (REPO / "contracts" / "node_modules" / "solc").exists():
        pytest.skip("contracts/node_modules missing: `make test` installs solc with npm")
    done = subprocess.run([str(FORGE), "test", "--offline", "--use", "./solc-from-npm", "--color", "never"], cwd=REPO / "contracts", capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.findall(r"\[PASS\] (\w+)\(.*?\) \(runs: (\d+)", done.stdout)
    names = {name for name, _ in passed}
    assert "[PASS] test_handlerCallsReachTheMarket()" in done.stdout
    assert {"invariant_marketHoldsWhatItOwes", "invariant_noEthMadeOrLost", "invariant_escrowOnlyForLiveSales", "testFuzz_reserveStartsTheClock"} <= names
    assert all(int(runs) >= 64 for _, runs in passed)
    assert "calls: 4096, reverts: 0" in done.stdout  # the handler's calls ran (refusals are caught inside it)
