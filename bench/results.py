"""Run records, long-format metrics, atomic writes and sweep aggregation.

One Hydra job writes ``run.json`` (what ran, status, timings, privacy
accounting) and ``metrics.parquet`` (one row per value, columns
:data:`METRIC_COLUMNS`). Aggregation walks a sweep directory, concatenates
every job and builds the comparison table: one row per dataset x generator x
epsilon, mean ± std over seeds, each column with its direction.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

METRIC_COLUMNS = [
    "run_id",
    "dataset",
    "generator",
    "epsilon",
    "seed",
    "family",
    "metric",
    "subgroup",
    "value",
    "ci_low",
    "ci_high",
    "direction",
]
FAMILIES = ("fidelity", "utility", "privacy", "tails", "cost")
DIRECTIONS = ("maximize", "minimize", "none")


def metric(
    family: str,
    name: str,
    value: float,
    direction: str,
    subgroup: str = "all",
    ci_low: float | None = None,
    ci_high: float | None = None,
) -> dict[str, Any]:
    """One metric value as a row of ``metrics.parquet`` (without the run keys).

    Args:
        family: one of :data:`FAMILIES`.
        name: full key, e.g. ``"fidelity.ks_complement"``.
        direction: ``"maximize"`` or ``"minimize"`` (which way is better), or
            ``"none"`` for a descriptive value that ranks nothing (e.g. a
            difference of two noisy AUCs, or a metric's null level).
        subgroup: ``"all"``, ``"outliers"``, ``"typical"`` or a segment name.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown metric family {family!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return {
        "family": family,
        "metric": name,
        "subgroup": subgroup,
        "value": _float(value),
        "ci_low": _float(ci_low),
        "ci_high": _float(ci_high),
        "direction": direction,
    }


def _float(v: Any) -> float:
    if v is None:
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


# ------------------------------------------------------------- atomic writes
def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")


def atomic_write_parquet(path: Path, df: pd.DataFrame) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else ("inf" if f == math.inf else "-inf" if f == -math.inf else None)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def write_run(outdir: Path, record: dict[str, Any], rows: Iterable[dict[str, Any]]) -> None:
    """Write ``metrics.parquet`` then ``run.json`` (the record is the commit marker)."""
    outdir = Path(outdir)
    keys = {k: record.get(k) for k in ("run_id", "dataset", "generator", "epsilon", "seed")}
    df = pd.DataFrame([{**keys, **r} for r in rows], columns=METRIC_COLUMNS)
    df["epsilon"] = df["epsilon"].map(_float)
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce")
    atomic_write_parquet(outdir / "metrics.parquet", df)
    atomic_write_json(outdir / "run.json", record)


def read_run(path: Path) -> dict[str, Any] | None:
    """A run.json as a dict, or None when it is absent or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


# ------------------------------------------------------------- aggregation
def collect(sweep_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every job under ``sweep_dir``.

    Returns:
        ``(runs, metrics)``: one row per run.json (flattened), and the
        concatenated long-format metrics of the runs (empty frames if none).
    """
    sweep_dir = Path(sweep_dir)
    runs, frames = [], []
    for rj in sorted(sweep_dir.rglob("run.json")):
        rec = read_run(rj)
        if rec is None:
            continue
        rec = dict(rec)
        rec["dir"] = str(rj.parent.relative_to(sweep_dir))
        runs.append(rec)
        mp = rj.parent / "metrics.parquet"
        if mp.exists():
            try:
                df = pd.read_parquet(mp)
            except Exception:  # noqa: BLE001 - a torn file is skipped, not fatal
                continue
            if not df.empty:
                frames.append(df)
    runs_df = pd.DataFrame(runs)
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=METRIC_COLUMNS)
    return runs_df, metrics


# The comparison table's columns, in display order: (metric, subgroup, label).
TABLE_COLUMNS: list[tuple[str, str, str]] = [
    ("fidelity.column_shapes", "all", "shapes"),
    ("fidelity.pair_trends", "all", "pairs"),
    ("fidelity.pair_trends_all", "all", "pairs(all)"),
    ("fidelity.quality_score", "all", "quality"),
    ("fidelity.detection_auc", "all", "detect AUC"),
    ("fidelity.association_distance", "all", "assoc dist"),
    ("fidelity.validity", "all", "validity"),
    ("fidelity.missing_rate_similarity", "all", "missing rate"),
    ("utility.tstr_auc", "all", "TSTR AUC"),
    ("utility.tstr_trtr_ratio", "all", "TSTR/TRTR"),
    ("privacy.mia_auc", "all", "MIA AUC"),
    ("privacy.mia_tpr_at_fpr_0.01", "all", "TPR@1%"),
    ("privacy.mia_auc_outlier_gap", "all", "MIA out-typ"),
    ("privacy.dcr_member_share", "all", "DCR member share"),
    ("privacy.singling_out_risk", "all", "singling out"),
    ("privacy.linkability_risk", "all", "linkability"),
    ("privacy.inference_risk", "all", "inference"),
    ("privacy.epsilon_lower_bound", "all", "eps LB"),
    ("privacy.audit_flagged", "all", "audit"),
    ("privacy.shadow_mia_advantage", "outliers", "shadow adv out"),
    ("privacy.shadow_mia_advantage", "random", "shadow adv rand"),
    ("tails.rare_category_retention", "all", "rare kept"),
    ("tails.tail_mass_ratio", "all", "tail mass"),
    ("cost.fit_s", "all", "fit s"),
    ("cost.peak_mem_mb", "all", "peak MB"),
]
# Marks on a privacy cell when any seed's run raised the flag metric ``<metric><suffix>``.
FLAG_MARKS = (("_below_baseline", "†"), ("_few_queries", "‡"))
TABLE_NOTE = (
    "Mean ± std over seeds; privacy values carry [the mean of each run's 95% interval]; "
    "↑ higher is better, ↓ lower is better, no arrow: not ranked; — not measured. "
    "† no better than anonymeter's random-guess baseline in some seed (the risk is not meaningful); "
    "‡ anonymeter generated fewer singling-out predicates than attacks (the risk is underestimated). "
    "audit: flagged = the empirical epsilon lower bound exceeds the claim; not testable = the claim "
    "is above the largest bound the audit's games could give (printed as max)."
)
ARROW = {"maximize": "↑", "minimize": "↓", "none": ""}


def _group_keys(runs: pd.DataFrame) -> list[str]:
    return ["dataset", "generator", "epsilon"]


def cell_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The benchmark cells of a sweep (``task`` cell; collapse jobs are reported apart)."""
    if runs.empty or "task" not in runs.columns:
        return runs
    return runs[runs["task"].fillna("cell") == "cell"]


def ok_cell_metrics(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Metrics of cells whose status is ok (failed runs' partial values are not averaged in)."""
    cells = cell_runs(runs)
    if cells.empty or "run_id" not in cells.columns:
        return metrics.iloc[0:0]
    keep = cells.loc[cells["status"] == "ok", "run_id"]
    return metrics[metrics["run_id"].isin(set(keep))]


# Overrides that never make two runs different cells: the row keys themselves, the seed (averaged over),
# and settings that change no number (where results go, caching, resuming, threads, time limits).
ROW_KEYS = ("dataset", "generator", "epsilon", "generator.epsilon", "seed")
_NEUTRAL = (
    "hydra",
    "paths.",
    "cache.",
    "run.resume",
    "run.timeout_s",
    "run.save_synthetic",
    "threads",
    "name",
    "experiment",
)


def run_parameters(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run's configuration as columns (one row per run, index = ``run_id``; missing: ``—``).

    From the run record's ``parameters`` (the flat job config,
    :func:`bench.run.record.config_parameters`), or, for records without
    them, its command-line ``overrides``. Row keys, the seed and settings that
    change no number are left out (:data:`ROW_KEYS`, and keys starting with
    ``hydra``, ``paths.``, ``cache.``, ...).
    """
    rows = []
    for r in runs.to_dict("records") if not runs.empty and "run_id" in runs.columns else []:
        given = r.get("parameters")
        if isinstance(given, dict):
            pairs = list(given.items())
        else:
            overrides = r.get("overrides") if isinstance(r.get("overrides"), (list, tuple, np.ndarray)) else []
            pairs = [(k.lstrip("+~"), v) for k, _, v in (str(o).partition("=") for o in overrides)]
        d = {k: str(v) for k, v in pairs if k not in ROW_KEYS and not k.startswith(_NEUTRAL)}
        rows.append({"run_id": r["run_id"], **d})
    return pd.DataFrame(rows).set_index("run_id").fillna("—") if rows else pd.DataFrame()


def swept_parameters(runs: pd.DataFrame) -> list[str]:
    """The parameters that would otherwise be averaged: those whose value differs between benchmark cells of
    one dataset x generator x epsilon (benchopt's convention: each becomes a column of the comparison table,
    and only seeds are averaged). A parameter that only tells generators apart (``generator.epochs`` set for
    ctgan, absent for identity) is not one."""
    cells = cell_runs(runs)
    if "status" in cells.columns:
        cells = cells[cells["status"] == "ok"]  # a failed run averages nothing; it joins its configuration's row
    params = run_parameters(cells)
    if params.empty:
        return []
    keys = [c for c in ("dataset", "generator", "epsilon") if c in cells.columns]
    groups = cells.set_index("run_id")[keys].astype(str).reindex(params.index)
    varying = params.assign(_g=groups.agg("|".join, axis=1)).groupby("_g").nunique(dropna=False).max()
    return sorted(c for c in params.columns if varying.get(c, 1) > 1)


def _with_parameters(frame: pd.DataFrame, runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame`` (with a ``run_id`` column) plus one column per swept parameter in ``keys`` (replacing any
    column of the same name, e.g. a run record's ``attacks`` block)."""
    if not keys:
        return frame
    params = run_parameters(runs).reindex(columns=keys).fillna("—")
    frame = frame.drop(columns=[k for k in keys if k in frame.columns])
    return frame.merge(params, left_on="run_id", right_index=True, how="left").fillna({k: "—" for k in keys})


SUMMARY_COLUMNS = (
    "dataset",
    "generator",
    "epsilon",
    "family",
    "metric",
    "subgroup",
    "direction",
    "mean",
    "std",
    "n",
    "ci_low",
    "ci_high",
)


def parameter_columns(frame: pd.DataFrame) -> list[str]:
    """The swept-parameter columns of a :func:`summarize` or :func:`comparison_table` frame (in order)."""
    fixed = (
        set(SUMMARY_COLUMNS)
        | {"runs", "eps spent"}
        | {f"{label} {a}".strip() for _, _, label in TABLE_COLUMNS for a in (*ARROW.values(), "")}
    )
    return [c for c in frame.columns if c not in fixed]


def fold_parameters(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with its swept parameters folded into the generator label (``ctgan (generator.epochs=50)``)
    and their columns dropped, for views (the plots) that tell configurations apart by generator alone."""
    params = parameter_columns(summary)
    if summary.empty or not params:
        return summary
    out = summary.copy()
    extra = [
        ", ".join(f"{k}={v}" for k, v in zip(params, vals) if v != "—") for vals in out[params].itertuples(index=False)
    ]
    out["generator"] = [f"{g} ({e})" if e else g for g, e in zip(out["generator"], extra)]
    return out.drop(columns=params)


def summarize(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds of every (group, metric, subgroup).

    A group is a dataset x generator x epsilon and a value of every swept
    parameter (:func:`swept_parameters`): only seeds are averaged. Only ok
    benchmark cells count: a failed run's partial values are listed with its
    error, not averaged in.

    Returns:
        Long frame ``dataset, generator, epsilon, <swept parameters>, family,
        metric, subgroup, direction, mean, std, n, ci_low, ci_high`` (the
        interval columns are the means over seeds of each run's interval bounds).
    """
    swept = swept_parameters(runs) if not runs.empty else []
    cols = [*SUMMARY_COLUMNS[:3], *swept, *SUMMARY_COLUMNS[3:]]
    if metrics.empty:
        return pd.DataFrame(columns=cols)
    m = ok_cell_metrics(runs, metrics).copy()
    if m.empty:
        return pd.DataFrame(columns=cols)
    m["epsilon"] = m["epsilon"].map(_float)
    m["eps_key"] = m["epsilon"].map(_eps_label)
    m = _with_parameters(m, runs, swept)
    g = m.groupby(
        ["dataset", "generator", "eps_key", *swept, "family", "metric", "subgroup", "direction"], dropna=False
    )
    out = g.agg(
        mean=("value", "mean"),
        std=("value", "std"),
        n=("value", "count"),
        ci_low=("ci_low", "mean"),
        ci_high=("ci_high", "mean"),
    ).reset_index()
    return out.rename(columns={"eps_key": "epsilon"})[cols]


def _eps_label(e: Any) -> str:
    e = _float(e)
    if math.isnan(e):
        return "—"
    if math.isinf(e):
        return "inf"
    return f"{e:g}"


def comparison_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The comparison table: one row per dataset x generator x epsilon.

    Cells are ``"mean ± std"`` over seeds; column headers carry the direction
    (↑ higher is better, ↓ lower is better). Only columns the sweep measured
    appear. Adds ``runs`` (ok/total) and, when DP runs report it, ``eps spent``:
    the mean spent epsilon, followed by ``(partial)`` when some run's claim
    does not cover the whole pipeline and ``(seeded)`` when some run's noise
    followed its seed (the guarantee then assumes the seed is secret).
    """
    summ = summarize(runs, metrics)
    swept = swept_parameters(runs) if not runs.empty else []
    runs = cell_runs(runs)
    if runs.empty:
        return pd.DataFrame()
    r = _with_parameters(runs.copy(), runs, swept)
    r["epsilon_key"] = r.get("epsilon", pd.Series([None] * len(r))).map(_eps_label)
    keys = ["dataset", "generator", "epsilon_key", *swept]
    row_keys = ["dataset", "generator", "epsilon", *swept]
    base = (
        r.groupby(keys, dropna=False)
        .agg(ok=("status", lambda s: int((s == "ok").sum())), total=("status", "size"))
        .reset_index()
    )
    table = base.rename(columns={"epsilon_key": "epsilon"})
    table["runs"] = table["ok"].astype(str) + "/" + table["total"].astype(str)
    table = table.drop(columns=["ok", "total"])
    if "epsilon_spent" in r.columns and r["epsilon_spent"].notna().any():
        spent = r.groupby(keys, dropna=False)["epsilon_spent"].agg(
            lambda s: _fmt(pd.to_numeric(s, errors="coerce").mean(), float("nan"), 1, 3)
        )
        full = (
            r.groupby(keys, dropna=False)["dp_full_scope"].agg(lambda s: all(bool(x) for x in s.dropna()))
            if "dp_full_scope" in r.columns
            else None
        )
        spent = spent.reset_index().rename(columns={"epsilon_key": "epsilon", "epsilon_spent": "eps spent"})
        if full is not None:
            fl = full.reset_index().rename(columns={"epsilon_key": "epsilon", "dp_full_scope": "_full"})
            spent = spent.merge(fl, on=row_keys, how="left")
            # epsilon = inf claims nothing: "inf" needs no mark
            spent["eps spent"] = [
                v if (v in ("—", "inf") or f) else f"{v} (partial)" for v, f in zip(spent["eps spent"], spent["_full"])
            ]
            spent = spent.drop(columns="_full")
        if "dp_seeded" in r.columns:
            # a seeded run's guarantee assumes the seed (written to run.json) is secret: marked like a partial one
            sd = r.groupby(keys, dropna=False)["dp_seeded"].agg(lambda s: any(_true(x) for x in s.dropna()))
            sd = sd.reset_index().rename(columns={"epsilon_key": "epsilon", "dp_seeded": "_seeded"})
            spent = spent.merge(sd, on=row_keys, how="left")
            spent["eps spent"] = [
                f"{v} (seeded)" if (v != "—" and _true(sd_)) else v
                for v, sd_ in zip(spent["eps spent"], spent["_seeded"])
            ]
            spent = spent.drop(columns="_seeded")
        table = table.merge(spent, on=row_keys, how="left")
    for name, sub, label in TABLE_COLUMNS:
        sel = summ[(summ["metric"] == name) & (summ["subgroup"] == sub)]
        if sel.empty:
            continue
        direction = sel["direction"].iloc[0]
        col = f"{label} {ARROW.get(direction, '')}".strip()
        if name == "privacy.audit_flagged":
            cells = _audit_cells(summ, sel, row_keys)
        elif name.startswith("privacy."):
            cells = sel.assign(cell=[_fmt_ci(r.mean, r.std, r.n, r.ci_low, r.ci_high) for r in sel.itertuples()])
            cells = _with_marks(cells, summ, name, sub, row_keys)
            if name == "privacy.epsilon_lower_bound":
                cells = _with_resolution(cells, summ, row_keys)
        else:
            cells = sel.assign(cell=[_fmt(a, b, n) for a, b, n in zip(sel["mean"], sel["std"], sel["n"])])
        table = table.merge(cells[row_keys + ["cell"]].rename(columns={"cell": col}), on=row_keys, how="left")
    table = table.fillna("—")
    table["_eps"] = table["epsilon"].map(lambda e: -1.0 if e == "—" else _float(e))
    table = table.sort_values(["dataset", "generator", "_eps", *swept]).drop(columns="_eps")
    return table.reset_index(drop=True)


def _fmt_ci(mean: float, std: float, n: int, lo: float, hi: float, digits: int = 3) -> str:
    """``mean ± std [lo, hi]`` (the interval when the runs gave one)."""
    s = _fmt(mean, std, n, digits)
    if s == "—" or lo is None or hi is None or math.isnan(_float(lo)) or math.isnan(_float(hi)):
        return s
    return f"{s} [{lo:.{min(digits, 2)}f}, {hi:.{min(digits, 2)}f}]"


def _with_marks(cells: pd.DataFrame, summ: pd.DataFrame, name: str, sub: str, keys3: list[str]) -> pd.DataFrame:
    """Append :data:`FLAG_MARKS` to cells whose flag metric was raised in some seed (its max over seeds is 1)."""
    cells = cells.copy()
    for suffix, mark in FLAG_MARKS:
        flag = summ[(summ["metric"] == name + suffix) & (summ["subgroup"] == sub)]
        if flag.empty:
            continue
        raised = {tuple(k) for k, v in zip(flag[keys3].itertuples(index=False), flag["mean"]) if v > 0}
        cells["cell"] = [
            c + mark if tuple(k) in raised and c != "—" else c
            for c, k in zip(cells["cell"], cells[keys3].itertuples(index=False))
        ]
    return cells


def _with_resolution(cells: pd.DataFrame, summ: pd.DataFrame, keys3: list[str]) -> pd.DataFrame:
    """``eps LB`` cells with the audit's resolution beside the bound: ``1.23 (max 2.03)``."""
    res = summ[(summ["metric"] == "privacy.audit_resolution") & (summ["subgroup"] == "all")]
    if res.empty:
        return cells
    r = dict(zip(res[keys3].itertuples(index=False), res["mean"]))
    cells = cells.copy()
    cells["cell"] = [
        f"{c} (max {r[tuple(k)]:.2f})" if tuple(k) in r and c != "—" else c
        for c, k in zip(cells["cell"], cells[keys3].itertuples(index=False))
    ]
    return cells


def _audit_cells(summ: pd.DataFrame, flagged: pd.DataFrame, keys3: list[str]) -> pd.DataFrame:
    """The audit column: ``flagged k/n``, ``not flagged`` or ``not testable (max r)`` per row.

    ``flagged`` rows hold the mean over the *testable* seeds (NaN is not testable),
    ``privacy.audit_testable`` the share of testable seeds.
    """
    test = summ[(summ["metric"] == "privacy.audit_testable") & (summ["subgroup"] == "all")]
    res = summ[(summ["metric"] == "privacy.audit_resolution") & (summ["subgroup"] == "all")]
    tmap = {tuple(k): (v, n) for k, v, n in zip(test[keys3].itertuples(index=False), test["mean"], test["n"])}
    rmap = dict(zip(res[keys3].itertuples(index=False), res["mean"]))
    out = []
    for k, r in zip(flagged[keys3].itertuples(index=False), flagged.itertuples()):
        k = tuple(k)
        share, n_all = tmap.get(k, (1.0, r.n))
        n_test = int(round(share * n_all)) if not math.isnan(_float(share)) else 0
        if n_test == 0:
            out.append(f"not testable (max {rmap[k]:.2f})" if k in rmap else "not testable")
        else:
            k_flag = int(round(_float(r.mean) * n_test)) if not math.isnan(_float(r.mean)) else 0
            txt = f"flagged {k_flag}/{n_test}" if k_flag else "not flagged"
            out.append(txt + (f" ({int(n_all) - n_test} not testable)" if n_test < n_all else ""))
    return flagged.assign(cell=out)


def _true(x: Any) -> bool:
    """A run.json boolean read back from JSON or parquet (True, "true", 1); NaN and None are False."""
    if isinstance(x, str):
        return x.strip().lower() in ("true", "1", "yes")
    try:
        return bool(x) and not (isinstance(x, float) and math.isnan(x))
    except (TypeError, ValueError):
        return False


def _fmt(mean: float, std: float, n: int, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if abs(mean) >= 100:
        s = f"{mean:.0f}"
        return s if (n is None or n < 2 or math.isnan(std)) else f"{s} ± {std:.0f}"
    s = f"{mean:.{digits}f}"
    if n is None or n < 2 or std is None or math.isnan(std):
        return s
    return f"{s} ± {std:.{digits}f}"


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    if df.empty:
        return "_no runs_\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row.tolist()) + " |")
    return "\n".join(lines) + "\n"


def failures(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs whose status is not ok, with their error."""
    if runs.empty or "status" not in runs.columns:
        return pd.DataFrame(columns=["dir", "generator", "seed", "status", "error"])
    bad = runs[runs["status"] != "ok"]
    cols = [c for c in ["dir", "dataset", "generator", "epsilon", "seed", "status", "error"] if c in bad.columns]
    return bad[cols].reset_index(drop=True)


@dataclass
class SweepTables:
    """A sweep read once: the runs, their metrics, and what both the table and the report derive."""

    runs: pd.DataFrame
    metrics: pd.DataFrame
    summary: pd.DataFrame  # :func:`summarize`
    table: pd.DataFrame  # :func:`comparison_table`
    failures: pd.DataFrame  # :func:`failures`


def sweep_tables(sweep_dir: Path) -> SweepTables:
    """Read ``sweep_dir``'s job dirs (:func:`collect`) and derive summary, comparison table and failures.

    Raises:
        FileNotFoundError: if ``sweep_dir`` does not exist.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep directory {str(sweep_dir)!r} does not exist")
    runs, metrics = collect(sweep_dir)
    return SweepTables(runs, metrics, summarize(runs, metrics), comparison_table(runs, metrics), failures(runs))


def aggregate(sweep_dir: Path, quiet: bool = False, tables: SweepTables | None = None) -> pd.DataFrame:
    """Aggregate a finished or partial sweep and write its summary files.

    Writes ``summary.parquet`` (long, mean/std/n over seeds), ``comparison.csv``
    and ``comparison.md`` into ``sweep_dir``; prints the markdown table unless
    ``quiet``.

    Args:
        tables: ``sweep_tables(sweep_dir)`` when the caller has already read it.
    Returns:
        The comparison table.
    Raises:
        FileNotFoundError: if ``sweep_dir`` does not exist.
    """
    sweep_dir = Path(sweep_dir)
    t = tables if tables is not None else sweep_tables(sweep_dir)
    summ, table, fails = t.summary, t.table, t.failures
    atomic_write_parquet(sweep_dir / "summary.parquet", summ)
    atomic_write_text(sweep_dir / "comparison.csv", table.to_csv(index=False))
    md = [f"# Comparison: {sweep_dir.name}\n", TABLE_NOTE + "\n"]
    params = parameter_columns(table)
    if params:
        md.append(
            "Rows also differ in "
            + ", ".join(f"`{p}`" for p in params)
            + " (swept in this sweep; only seeds are averaged over).\n"
        )
    md.append(to_markdown(table))
    if not fails.empty:
        md += ["\n## Failed runs\n", to_markdown(fails)]
    text = "\n".join(md)
    atomic_write_text(sweep_dir / "comparison.md", text)
    if not quiet:
        print(text)
    return table
