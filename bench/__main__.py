"""`make bench`: run every benchmark and print one table of their figures."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from bench import ingest_speed, train_quality, train_speed

BENCHMARKS = {
    "ingest_speed": ingest_speed.run,
    "train_speed": train_speed.run,
    "train_quality": train_quality.run,  # ~45 minutes: FastGAN 2,600 steps, then DCGAN for the same time
}


def main(names: list[str]) -> None:
    console = Console()
    table = Table(title="latentmint benchmarks (medians)")
    for col in ("benchmark", "case", "figure", "target", "ok"):
        table.add_column(col)
    for name, run in BENCHMARKS.items():
        if names and name not in names:
            continue
        console.print(f"running {name} ...")
        for row in run():
            figure_key = next(k for k in row if k not in ("case", "runs", "target"))
            target = row.get("target")
            ok = "" if target is None else ("yes" if row[figure_key] >= target else "NO")
            table.add_row(name, row["case"], f"{row[figure_key]} {figure_key}", "" if target is None else f">= {target}", ok)
    console.print(table)
    console.print("results written to bench/results/")


if __name__ == "__main__":
    main(sys.argv[1:])
