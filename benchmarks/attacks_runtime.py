"""Runtime of the default attack set (conf/attacks/default.yaml) on one Adult-sized synthetic table.

Usage::

    TAILBENCH_DATA_DIR=/path/to/data python benchmarks/attacks_runtime.py [--generator independent]
        [--max-rows N] [--threads 1]

Loads UCI Adult (48,842 rows -> 29,305 train / 9,768 holdout / 9,769 reference),
fits a cheap baseline generator, samples as many rows as the training split and
runs the ``attacks`` family once with the default config. Prints wall-clock and
CPU seconds per part and in total (and the share of the total each part takes),
so the numbers are ratios of one run on this machine, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generator", default="independent")
    ap.add_argument("--max-rows", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    import attacks.run as run
    from bench.data.loaders import load_dataset_file
    from bench.generators import check_output, make_generator
    from bench.metrics.context import EvalContext
    from bench.run.record import set_threads

    set_threads(args.threads)
    ds = load_dataset_file(ROOT / "conf" / "dataset" / "adult.yaml", max_rows=args.max_rows)
    splits = ds.splits()
    gen = make_generator(args.generator, random_state=0).fit(splits.train, ds.schema)
    syn = check_output(gen.sample(len(splits.train)), len(splits.train), ds.schema, args.generator)
    attack_cfg = yaml.safe_load((ROOT / "conf" / "attacks" / "default.yaml").read_text())
    ctx = EvalContext(dataset=ds, splits=splits, synthetic=syn, seed=0, generator=gen)
    w0, c0 = time.perf_counter(), time.process_time()
    rows = run.attack_metrics(ctx, attack_cfg)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    info = ctx.cache["run_record"]["attacks"]
    print(
        f"dataset adult: {splits.sizes()}, synthetic {len(syn)} rows from {args.generator}, "
        f"threads={args.threads}, load average {os.getloadavg()[0]:.1f}"
    )
    for part, s in info["timings_s"].items():
        print(f"  {part:12s} {s:7.1f} s wall  ({s / wall:5.1%} of total)")
    for r in info.get("anonymeter", {}).get("risks", []):
        print(f"    anonymeter {r['name']:28s} [{r['subgroup']}] {r['seconds']:6.1f} s")
    print(f"  {'total':12s} {wall:7.1f} s wall, {cpu:.1f} s CPU; {len(rows)} metric rows; errors: {info['errors']}")
    head = {r["metric"]: r["value"] for r in rows if r["subgroup"] == "all"}
    for k in (
        "privacy.mia_auc",
        "privacy.mia_auc_outlier_gap",
        "privacy.dcr_share_closer_to_train",
        "privacy.singling_out_risk",
        "privacy.linkability_risk",
        "privacy.inference_risk",
    ):
        print(f"  {k:36s} {head.get(k, float('nan')):.3f}")


if __name__ == "__main__":
    main()
