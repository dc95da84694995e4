"""Fidelity and TSTR utility of the DP generators across the epsilon grid on UCI Adult (or fair).

A lean version of ``experiment=epsilon_sweep`` for checking the trend: for each
generator config (``conf/generator/<model>.yaml``, e.g. ``dp_ctgan`` or
``dp_ctgan_adult_tuned``), epsilon and seed it fits the generator on the fixed
training split,
samples as many rows, and scores only the SDMetrics quality score (equal to
SDMetrics' QualityReport, see tests/test_fidelity_sdmetrics.py), the TSTR
HistGradientBoosting ROC AUC on the real holdout and the 2-way marginal error
(:func:`bench.metrics.association.two_way_marginal_error`: mean total variation distance
of all 2-way marginals on the schema's public cells). Any registered generator
works, plugins' included (``--models mst aim`` with tailbench-mbi installed).
No attacks, no report. It
prints mean ± std over seeds per epsilon, Spearman's rho of the means against
the grid, whether the means rise monotonically (a drop up to ``--tol`` between
neighbours counts as a tie), the largest drop between neighbouring means, and
Page's L test for an ordered (monotone) trend with seeds as blocks
(``scipy.stats.page_trend_test``; Page 1963). Means of a curve that saturates
(dp_tvae on full Adult beyond epsilon 2) can dip by less than their seed
spread; the trend test asks whether the ranks within each seed rise with
epsilon.

Usage::

    TAILBENCH_DATA_DIR=../shared/data python scripts/epsilon_trend.py
    python scripts/epsilon_trend.py --models dp_ctgan dp_ctgan_adult_tuned dp_marginals --seeds 0 1 2 \\
        --max-rows 8000 --set dp_ctgan.epochs=100 --jobs 2
    python scripts/epsilon_trend.py --dataset fair --models dp_tvae --epsilons 1 4 --seeds 0 1 \\
        --set dp_tvae.lr=0.001   # one point of the tuning grid on fair (docs/dp.md)
    python scripts/epsilon_trend.py --models mst aim dp_marginals dp_tvae dp_ctgan \\
        --epsilons 0.5 1 2 4 8 inf --max-rows 8000 --out results/trend/mbi.csv --table

Issue 3: "fidelity and TSTR utility rise with epsilon on average across seeds".
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, math.inf)


def _dataset(name: str, max_rows: int | None):
    from bench.data.loaders import load_dataset_file

    return load_dataset_file(ROOT / "conf" / "dataset" / f"{name}.yaml", max_rows=max_rows)


def _generator(model: str, eps: float, seed: int, kw: dict):
    """The generator of ``conf/generator/<model>.yaml`` at ``eps`` with the ``--set`` overrides."""
    from omegaconf import OmegaConf

    from bench.run.cell import build_generator

    path = ROOT / "conf" / "generator" / f"{model}.yaml"
    if not path.exists():  # an entry-point plugin ships its config in its package (e.g. tailbench-mbi)
        from bench.generators.registry import generator_class

        package = sys.modules[generator_class(model).__module__.split(".")[0]]
        path = Path(package.__file__).parent / "conf" / "generator" / f"{model}.yaml"
    cfg = OmegaConf.load(path)
    cfg.random_state = int(seed)
    cfg.epsilon = float(eps)
    for key, value in {"verbose": False, **kw}.items():
        cfg[key] = value
    return build_generator(cfg, seed)


def _value(text: str):
    import yaml

    return yaml.safe_load(text)


def one_cell(name: str, eps: float, seed: int, max_rows: int | None, kw: dict, dataset: str = "adult") -> dict:
    """Fit one generator and score it; returns a plain dict (runs in a worker)."""
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    from bench.generators import check_output
    from bench.metrics.association import two_way_marginal_error
    from bench.metrics.shapes import RealProfile, quality_scores
    from bench.metrics.utility import tstr_trtr

    ds = _dataset(dataset, max_rows)
    sp = ds.splits()
    t0 = time.perf_counter()
    gen = _generator(name, eps, seed, kw).fit(sp.train, ds.schema)
    fit_s = time.perf_counter() - t0
    syn = check_output(gen.sample(len(sp.train)), len(sp.train), ds.schema, name)
    quality = quality_scores(RealProfile.from_frame(sp.train, ds.schema), syn)["quality_score"]
    # a table that lost a target class scores the constant classifier (AUC 0.5), as in the sweep
    tstr = tstr_trtr(train=sp.train, holdout=sp.holdout, synthetic=syn, schema=ds.schema, models=["hgb"], seed=seed)[
        "hgb"
    ]["tstr_auc"]
    twoway = two_way_marginal_error(sp.train, syn, ds.schema)["mean"]
    spent = gen.privacy_spent()
    return dict(
        model=name,
        epsilon=eps,
        seed=seed,
        quality=quality,
        tstr=tstr,
        twoway=twoway,
        fit_s=fit_s,
        spent=spent.epsilon if spent else math.nan,
        n_train=len(sp.train),
        dataset=dataset,
        full_scope=spent.full_scope if spent else False,
        settings=repr(kw),
    )


def _spearman(y: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(range(len(y)), y).statistic)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--models",
        nargs="+",
        default=["dp_tvae", "dp_ctgan"],
        help="generator configs in conf/generator/ (e.g. dp_ctgan_adult_tuned)",
    )
    p.add_argument("--dataset", default="adult", help="dataset config in conf/dataset/ (adult or fair)")
    p.add_argument("--epsilons", nargs="+", type=float, default=list(GRID))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--max-rows", type=int, default=8000, help="cap the table (stratified); 0 = all rows")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="MODEL.KEY=VALUE",
        help="generator settings, e.g. dp_ctgan.epochs=100 (YAML values)",
    )
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--tol", type=float, default=0.0, help="a drop up to tol between neighbours counts as a tie")
    p.add_argument("--out", default=None, help="write every (model, epsilon, seed) score to this CSV")
    p.add_argument("--from-csv", default=None, help="re-print the statistics of an earlier --out CSV (no fits)")
    p.add_argument(
        "--table",
        action="store_true",
        help="also print one markdown table: model x epsilon, quality, TSTR AUC, 2-way TV (mean ± std)",
    )
    args = p.parse_args(argv)

    import numpy as np
    import pandas as pd
    from joblib import Parallel, delayed
    from scipy.stats import page_trend_test

    kw: dict[str, dict] = {m: {} for m in args.models}
    for item in args.set:
        key, _, val = item.partition("=")
        model, _, setting = key.partition(".")
        if model not in kw or not setting or not _:
            p.error(f"--set {item!r}: expected MODEL.KEY=VALUE with MODEL in {args.models}")
        kw[model][setting] = _value(val)
    max_rows = args.max_rows or None
    t0 = time.perf_counter()
    if args.from_csv:
        df = pd.read_csv(args.from_csv)
    else:
        cells = [(m, e, s) for m in args.models for e in args.epsilons for s in args.seeds]
        rows = []
        # results arrive as cells finish; --out is rewritten after each one, so a stopped run keeps its cells
        for row in Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
            delayed(one_cell)(m, e, s, max_rows, kw[m], args.dataset) for m, e, s in cells
        ):
            rows.append(row)
            if args.out:
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(rows).to_csv(args.out, index=False)
        order = {c: i for i, c in enumerate(cells)}
        df = pd.DataFrame(rows)
        df = df.iloc[
            sorted(
                range(len(df)), key=lambda i: order[(df["model"].iloc[i], df["epsilon"].iloc[i], df["seed"].iloc[i])]
            )
        ].reset_index(drop=True)
    ds_name = df["dataset"].iloc[0] if "dataset" in df else "adult"
    print(
        f"{ds_name}, {df['n_train'].iloc[0]} training rows, seeds {sorted(df['seed'].unique().tolist())}, "
        f"settings {kw}, {time.perf_counter() - t0:.0f} s wall"
    )
    over = df[np.isfinite(df["epsilon"])]
    if len(over):
        print(f"spent/target epsilon: max {float((over['spent'] / over['epsilon']).max()):.5f}")
    ok = True
    for m, g in df.groupby("model", sort=False):
        agg = g.groupby("epsilon").agg(
            q=("quality", "mean"), qs=("quality", "std"), u=("tstr", "mean"), us=("tstr", "std"), fit=("fit_s", "mean")
        )
        tw = g.groupby("epsilon")["twoway"].agg(["mean", "std"]) if "twoway" in g else None
        print(f"\n{m}  (mean fit {agg['fit'].mean():.0f} s)")
        print(f"{'epsilon':>8} {'quality':>15} {'TSTR AUC':>15}" + (f" {'2-way TV':>15}" if tw is not None else ""))
        for e, r in agg.iterrows():
            extra = f" {tw.loc[e, 'mean']:8.3f} ± {tw.loc[e, 'std']:.3f}" if tw is not None else ""
            print(f"{e:>8g} {r.q:8.3f} ± {r.qs:.3f} {r.u:8.3f} ± {r.us:.3f}{extra}")
        for metric, col in (("q", "quality"), ("u", "tstr")):
            y = agg[metric].tolist()
            rising = all(b >= a - args.tol for a, b in zip(y, y[1:]))
            ok &= rising
            drop = max([a - b for a, b in zip(y, y[1:])] + [0.0])
            label = "quality" if metric == "q" else "TSTR"
            blocks = g.pivot_table(index="seed", columns="epsilon", values=col).dropna()
            page = page_trend_test(blocks.to_numpy()) if blocks.shape[0] >= 2 and blocks.shape[1] >= 3 else None
            page_txt = f", Page's L {page.statistic:.0f} p={page.pvalue:.2g}" if page is not None else ""
            print(
                f"  {label}: Spearman rho {_spearman(y):.2f}, monotone {'yes' if rising else 'NO'} "
                f"(largest drop {drop:.3f}){page_txt}"
            )
    print(f"\nall monotone: {'yes' if ok else 'NO'}")
    if args.table:
        print("\n" + comparison_table(df))
    return 0


def comparison_table(df) -> str:
    """Markdown: one row per (model, epsilon), quality / TSTR AUC / 2-way TV as mean ± std over seeds."""
    lines = [
        "| model | epsilon | seeds | quality ↑ | TSTR AUC ↑ | 2-way TV ↓ | fit s |",
        "|---|---|---|---|---|---|---|",
    ]
    for (m, e), g in df.groupby(["model", "epsilon"], sort=False):
        cells = [f"{g[c].mean():.3f} ± {g[c].std():.3f}" if c in g else "" for c in ("quality", "tstr", "twoway")]
        lines.append(f"| {m} | {e:g} | {len(g)} | " + " | ".join(cells) + f" | {g['fit_s'].mean():.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
