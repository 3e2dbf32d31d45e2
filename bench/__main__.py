"""`make bench`: run every benchmark (or those named) and print one table of their figures."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from bench import chain_speed, discriminators, eval_speed, gas, generate_speed, ingest_speed, lookalike, train_quality, train_speed, verify_public, verify_speed

BENCHMARKS = {
    "ingest_speed": ingest_speed.run,
    "train_speed": train_speed.run,
    "generate_speed": generate_speed.run,
    "eval_speed": eval_speed.run,  # about a minute: FID features at two batch sizes
    "gas": gas.run,  # under a minute
    "lookalike": lookalike.run,  # a few minutes: 2,540 dlib embeddings
    "chain_speed": chain_speed.run,  # ~3 minutes: 10,000 tokens on the embedded chain
    "verify_speed": verify_speed.run,  # ~10 minutes: 10,000 rendered, stored and minted works; 1,000,000 fingerprints
    "verify_public": verify_public.run,  # ~3 minutes: anvil + js-ipfs, a stranger verifying in an empty folder
    "train_quality": train_quality.run,  # ~2.6 hours: 64 px runs of 30 and 60 minutes branched from one trunk, the 60-minute cascade alone, FID/KID over 2,000 images each
    "discriminators": discriminators.run,  # ~70 minutes: two 30-minute runs, then FID/KID over 2,000 images each
}
HIDDEN = ("case", "runs", "target")


def verdict(row: dict) -> str:
    """'yes'/'NO' where the row states a target (a minimum, or pass/fail flags), else blank."""
    checks = [v for k, v in row.items() if isinstance(v, bool)]
    if row.get("target") is not None:
        figure = next(v for k, v in row.items() if k not in HIDDEN and isinstance(v, (int, float)) and not isinstance(v, bool))
        checks.append(figure >= row["target"])
    return "" if not checks else ("yes" if all(checks) else "NO")


def main(names: list[str]) -> None:
    console = Console()
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    table = Table(title="latentmint benchmarks (medians)")
    for col in ("benchmark", "case", "figures", "target", "ok"):
        table.add_column(col, overflow="fold")
    for name, run in BENCHMARKS.items():
        if names and name not in names:
            continue
        console.print(f"running {name} ...")
        for row in run():
            figures = ", ".join(f"{k}={v}" for k, v in row.items() if k not in HIDDEN and v is not None)
            table.add_row(name, row["case"], figures, "" if row.get("target") is None else f">= {row['target']}", verdict(row))
    console.print(table)
    console.print("results written to bench/results/")


if __name__ == "__main__":
    main(sys.argv[1:])
