"""tailbench's column shapes + pair trends against SDMetrics' QualityReport: equal values, time ratio.

Scores one real/synthetic pair on UCI Adult (the real training split, 29,305
rows, against a synthetic table of the same size), checks that every
per-column and per-pair score, both property scores and the overall score
equal SDMetrics' (to 1e-9, with the QualityReport's default thresholds and
with both thresholds at 0), then times both implementations in the same
process, interleaved, and prints the ratios:

* ``cold``: tailbench builds the real profile (:class:`bench.metrics.shapes.RealProfile`)
  and scores the table (what a single run pays);
* ``warm``: the profile is cached, as in a sweep scoring many synthetic tables
  against one training split.

Usage::

    TAILBENCH_DATA_DIR=/path/to/data python benchmarks/fidelity_speed.py \
        [--generator independent] [--repeats 5]

Exits 1 if the values differ. Timings are wall-clock medians; on a shared
machine run it with nothing else busy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TOL = 1e-9


def _load(generator: str, seed: int):
    from bench.data.loaders import load_dataset_file
    from bench.generators import make_generator
    from bench.generators.base import check_output

    ds = load_dataset_file(ROOT / "conf" / "dataset" / "adult.yaml")
    train = ds.splits().train
    gen = make_generator(generator, random_state=seed).fit(train, ds.schema)
    syn = check_output(gen.sample(len(train)), len(train), ds.schema, generator)
    return ds.schema, train, syn


def _sdmetrics(schema, real, syn, thresholds: bool = True):
    from sdmetrics_reference import sdmetrics_quality_report

    return sdmetrics_quality_report(real, syn, schema, thresholds)


def _ours(schema, real, syn, profile=None):
    from bench.metrics.shapes import RealProfile, quality_scores

    prof = profile if profile is not None else RealProfile.from_frame(real, schema)
    return quality_scores(prof, syn)


def check_equal(schema, real, syn) -> list[str]:
    """Every score compared; returns a list of mismatches (empty = equal)."""
    bad = []
    ours = _ours(schema, real, syn)
    for thresholds in (True, False):
        rep = _sdmetrics(schema, real, syn, thresholds)
        shapes = rep.get_details("Column Shapes").set_index("Column")["Score"]
        mine = ours["shapes"].set_index("column")["score"]
        for col, v in shapes.items():
            if not abs(mine[col] - v) <= TOL:
                bad.append(f"shape {col}: {mine[col]!r} vs {v!r}")
        det = rep.get_details("Column Pair Trends").set_index(["Column 1", "Column 2"])
        mp = ours["pairs"].set_index(["column_1", "column_2"])
        met = det["Meets Threshold?"].astype("boolean").fillna(False).astype(bool)
        for key, v in det["Score"].items():
            if thresholds and not met[key]:
                continue
            if not abs(mp.loc[key, "score"] - v) <= TOL:
                bad.append(f"pair {key}: {mp.loc[key, 'score']!r} vs {v!r}")
        props = rep.get_properties().set_index("Property")["Score"]
        pair = ours["pair_trends"] if thresholds else ours["pair_trends_all"]
        overall = ours["quality_score"] if thresholds else np.nanmean([ours["column_shapes"], pair])
        for name, a, b in (
            ("Column Shapes", ours["column_shapes"], props["Column Shapes"]),
            ("Column Pair Trends", pair, props["Column Pair Trends"]),
            ("overall", overall, rep.get_score()),
        ):
            if not abs(a - b) <= TOL:
                bad.append(f"{name} (thresholds={thresholds}): {a!r} vs {b!r}")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generator", default="independent")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from bench.metrics.shapes import RealProfile

    schema, real, syn = _load(args.generator, args.seed)
    print(f"Adult training split {real.shape} vs {args.generator} synthetic {syn.shape}")
    mismatches = check_equal(schema, real, syn)
    if mismatches:
        print("VALUES DIFFER:\n  " + "\n  ".join(mismatches[:20]))
        return 1
    print(
        f"equality: every column shape, pair trend, property and overall score equal to {TOL:g} "
        "(default thresholds and all pairs)"
    )

    _sdmetrics(schema, real, syn)  # warm imports and caches on both sides
    prof = RealProfile.from_frame(real, schema)
    _ours(schema, real, syn, prof)
    t_sdm, t_cold, t_warm = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        _sdmetrics(schema, real, syn)
        t_sdm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _ours(schema, real, syn)
        t_cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _ours(schema, real, syn, prof)
        t_warm.append(time.perf_counter() - t0)
    sdm, cold, warm = (statistics.median(t) for t in (t_sdm, t_cold, t_warm))
    print(f"SDMetrics QualityReport           median {sdm * 1000:8.1f} ms  ({args.repeats} runs)")
    print(f"tailbench, profile built per call median {cold * 1000:8.1f} ms  ratio {sdm / cold:5.1f}x")
    print(f"tailbench, cached real profile    median {warm * 1000:8.1f} ms  ratio {sdm / warm:5.1f}x")
    target = 5.0
    print(f"target >= {target:g}x (cold): {'met' if sdm / cold >= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
