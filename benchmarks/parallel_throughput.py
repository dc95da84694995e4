"""Throughput of 2 joblib workers against the sequential launcher, same sweep.

Runs one small sweep (fair, gaussian_copula + tvae x 4 seeds, cache off so
every cell fits) twice: with Hydra's basic (sequential) launcher and with
``hydra/launcher=joblib hydra.launcher.n_jobs=2``; each job uses one torch/BLAS
thread (``threads=1``). Prints both wall times and their ratio.
Target: >= 1.7x on 2 cores.

    .venv/bin/python benchmarks/parallel_throughput.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP = [
    "generator=gaussian_copula,tvae",
    "generator.epochs=60",
    "seed=0,1,2,3",
    "threads=1",
    "cache.enabled=false",
    "run.resume=false",
    "evaluation.utility.models=[hgb]",
]


def run(extra: list[str], sweep_dir: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bench.cli", "-m", *SWEEP, *extra, f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seq = run([], Path(tmp) / "seq")
        par = run(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], Path(tmp) / "par")
    print(
        f"sequential: {seq:.1f} s   joblib n_jobs=2: {par:.1f} s   throughput ratio: {seq / par:.2f}x "
        "(target >= 1.7x on 2 cores)"
    )


if __name__ == "__main__":
    main()
