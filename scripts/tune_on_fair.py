"""The tuning grid behind the ``tuned_on: fair`` recipes of dp_tvae and dp_ctgan (docs/dp.md).

Hyperparameters chosen by looking at the table being released spend privacy
that no accountant counts (Papernot & Steinke, ICLR 2022). This script
chooses them on the public ``fair`` table instead: for each model it fits
every point of a small grid at epsilon 1 and 4 with seeds 0 and 1 on fair's
training split, scores the SDMetrics quality score and the HGB TSTR AUC on
fair's holdout (``scripts/epsilon_trend.py``'s ``one_cell``), and ranks the
points by the mean of (quality + TSTR) / 2 over the four fits. The winner
becomes ``conf/generator/<model>.yaml`` with ``tuned_on: fair``.

Usage::

    python scripts/tune_on_fair.py --models dp_tvae dp_ctgan --jobs 2 --out results/tune/fair.csv
    python scripts/tune_on_fair.py --from-csv results/tune/fair.csv      # re-print the ranking
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

# The grids (small on purpose: each dp_ctgan fit on fair takes about a minute on 2 cores).
GRIDS = {
    "dp_tvae": {
        "arch": [
            {"embedding_dim": 8, "compress_dims": [32], "decompress_dims": [32]},
            {"embedding_dim": 128, "compress_dims": [128, 128], "decompress_dims": [128, 128]},
        ],
        "epochs": [50, 200],
        "batch_size": [250, 1000],
        "lr": [1e-3, 3e-3],
    },
    "dp_ctgan": {
        "epochs": [50, 150],
        "batch_size": [250, 500],
        "lr": [2e-4, 1e-3],
    },
}
EPSILONS = (1.0, 4.0)
SEEDS = (0, 1)


def points(model: str) -> list[dict]:
    """Every grid point of ``model`` as generator settings."""
    grid = GRIDS[model]
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        kw: dict = {}
        for k, v in zip(keys, combo):
            if k == "arch":
                kw.update(v)
            elif k == "lr" and model == "dp_ctgan":
                kw.update(generator_lr=v, discriminator_lr=v)
            else:
                kw[k] = v
        out.append(kw)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(GRIDS), choices=list(GRIDS))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default=None)
    p.add_argument("--from-csv", default=None)
    args = p.parse_args(argv)

    import pandas as pd
    from epsilon_trend import one_cell
    from joblib import Parallel, delayed

    if args.from_csv:
        df = pd.read_csv(args.from_csv)
    else:
        cells = [(m, kw, e, s) for m in args.models for kw in points(m) for e in EPSILONS for s in SEEDS]
        rows = Parallel(n_jobs=args.jobs)(delayed(one_cell)(m, e, s, None, kw, "fair") for m, kw, e, s in cells)
        df = pd.DataFrame(rows)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(args.out, index=False)
    df["score"] = (df["quality"] + df["tstr"]) / 2
    for m, g in df.groupby("model", sort=False):
        rank = g.groupby("settings").agg(
            score=("score", "mean"),
            quality=("quality", "mean"),
            tstr=("tstr", "mean"),
            fit_s=("fit_s", "mean"),
            n=("score", "size"),
        )
        rank = rank.sort_values("score", ascending=False)
        print(f"\n{m} on fair ({len(rank)} points, epsilon {list(EPSILONS)} x seeds {list(SEEDS)}):")
        print(rank.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
