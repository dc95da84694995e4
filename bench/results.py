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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

METRIC_COLUMNS = ["run_id", "dataset", "generator", "epsilon", "seed", "family", "metric",
                  "subgroup", "value", "ci_low", "ci_high", "direction"]
FAMILIES = ("fidelity", "utility", "privacy", "tails", "cost")


def metric(family: str, name: str, value: float, direction: str, subgroup: str = "all",
           ci_low: float | None = None, ci_high: float | None = None) -> dict[str, Any]:
    """One metric value as a row of ``metrics.parquet`` (without the run keys).

    Args:
        family: one of :data:`FAMILIES`.
        name: full key, e.g. ``"fidelity.ks_complement"``.
        direction: ``"maximize"`` or ``"minimize"`` (which way is better).
        subgroup: ``"all"``, ``"outliers"``, ``"typical"`` or a segment name.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown metric family {family!r}")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be maximize or minimize, got {direction!r}")
    return {"family": family, "metric": name, "subgroup": subgroup,
            "value": _float(value), "ci_low": _float(ci_low), "ci_high": _float(ci_high),
            "direction": direction}


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
    ("utility.tstr_auc", "all", "TSTR AUC"),
    ("utility.tstr_trtr_ratio", "all", "TSTR/TRTR"),
    ("privacy.mia_auc", "all", "MIA AUC"),
    ("privacy.mia_tpr_at_fpr_0.01", "all", "TPR@1%"),
    ("privacy.mia_auc_outlier_gap", "all", "MIA out-typ"),
    ("privacy.dcr_share_closer_to_train", "all", "DCR train>hold"),
    ("privacy.singling_out_risk", "all", "singling out"),
    ("privacy.linkability_risk", "all", "linkability"),
    ("privacy.inference_risk", "all", "inference"),
    ("privacy.epsilon_lower_bound", "all", "eps LB"),
    ("privacy.audit_flagged", "all", "audit flag"),
    ("privacy.shadow_mia_advantage", "outliers", "shadow adv out"),
    ("privacy.shadow_mia_advantage", "random", "shadow adv rand"),
    ("tails.rare_category_retention", "all", "rare kept"),
    ("tails.tail_mass_ratio", "all", "tail mass"),
    ("cost.fit_s", "all", "fit s"),
    ("cost.peak_mem_mb", "all", "peak MB"),
]
ARROW = {"maximize": "↑", "minimize": "↓"}


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


def summarize(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds of every (group, metric, subgroup).

    Only ok benchmark cells count: a failed run's partial values are listed
    with its error, not averaged in.

    Returns:
        Long frame ``dataset, generator, epsilon, family, metric, subgroup,
        direction, mean, std, n``.
    """
    if metrics.empty:
        return pd.DataFrame(columns=["dataset", "generator", "epsilon", "family", "metric",
                                     "subgroup", "direction", "mean", "std", "n"])
    m = ok_cell_metrics(runs, metrics).copy()
    if m.empty:
        return summarize(runs.iloc[0:0], metrics.iloc[0:0])
    m["epsilon"] = m["epsilon"].map(_float)
    m["eps_key"] = m["epsilon"].map(_eps_label)
    g = m.groupby(["dataset", "generator", "eps_key", "family", "metric", "subgroup", "direction"],
                  dropna=False)["value"]
    out = g.agg(mean="mean", std="std", n="count").reset_index().rename(columns={"eps_key": "epsilon"})
    return out


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
    runs = cell_runs(runs)
    if runs.empty:
        return pd.DataFrame()
    r = runs.copy()
    r["epsilon_key"] = r.get("epsilon", pd.Series([None] * len(r))).map(_eps_label)
    keys = ["dataset", "generator", "epsilon_key"]
    base = r.groupby(keys, dropna=False).agg(
        ok=("status", lambda s: int((s == "ok").sum())), total=("status", "size")).reset_index()
    table = base.rename(columns={"epsilon_key": "epsilon"})
    table["runs"] = table["ok"].astype(str) + "/" + table["total"].astype(str)
    table = table.drop(columns=["ok", "total"])
    if "epsilon_spent" in r.columns and r["epsilon_spent"].notna().any():
        spent = r.groupby(keys, dropna=False)["epsilon_spent"].agg(
            lambda s: _fmt(pd.to_numeric(s, errors="coerce").mean(), float("nan"), 1, 3))
        full = r.groupby(keys, dropna=False)["dp_full_scope"].agg(
            lambda s: all(bool(x) for x in s.dropna())) if "dp_full_scope" in r.columns else None
        spent = spent.reset_index().rename(columns={"epsilon_key": "epsilon", "epsilon_spent": "eps spent"})
        if full is not None:
            fl = full.reset_index().rename(columns={"epsilon_key": "epsilon", "dp_full_scope": "_full"})
            spent = spent.merge(fl, on=["dataset", "generator", "epsilon"], how="left")
            # epsilon = inf claims nothing: "inf" needs no mark
            spent["eps spent"] = [v if (v in ("—", "inf") or f) else f"{v} (partial)"
                                  for v, f in zip(spent["eps spent"], spent["_full"])]
            spent = spent.drop(columns="_full")
        if "dp_seeded" in r.columns:
            # a seeded run's guarantee assumes the seed (written to run.json) is secret: marked like a partial one
            sd = r.groupby(keys, dropna=False)["dp_seeded"].agg(lambda s: any(_true(x) for x in s.dropna()))
            sd = sd.reset_index().rename(columns={"epsilon_key": "epsilon", "dp_seeded": "_seeded"})
            spent = spent.merge(sd, on=["dataset", "generator", "epsilon"], how="left")
            spent["eps spent"] = [f"{v} (seeded)" if (v != "—" and _true(sd_)) else v
                                  for v, sd_ in zip(spent["eps spent"], spent["_seeded"])]
            spent = spent.drop(columns="_seeded")
        table = table.merge(spent, on=["dataset", "generator", "epsilon"], how="left")
    for name, sub, label in TABLE_COLUMNS:
        sel = summ[(summ["metric"] == name) & (summ["subgroup"] == sub)]
        if sel.empty:
            continue
        direction = sel["direction"].iloc[0]
        col = f"{label} {ARROW.get(direction, '')}".strip()
        cells = sel.assign(cell=[_fmt(a, b, n) for a, b, n in zip(sel["mean"], sel["std"], sel["n"])])
        table = table.merge(cells[["dataset", "generator", "epsilon", "cell"]].rename(columns={"cell": col}),
                            on=["dataset", "generator", "epsilon"], how="left")
    table = table.fillna("—")
    table["_eps"] = table["epsilon"].map(lambda e: -1.0 if e == "—" else _float(e))
    table = table.sort_values(["dataset", "generator", "_eps"]).drop(columns="_eps")
    return table.reset_index(drop=True)


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
    summary: pd.DataFrame    # :func:`summarize`
    table: pd.DataFrame      # :func:`comparison_table`
    failures: pd.DataFrame   # :func:`failures`


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
    md = [f"# Comparison: {sweep_dir.name}\n",
          "Mean ± std over seeds; ↑ higher is better, ↓ lower is better; — not measured.\n",
          to_markdown(table)]
    if not fails.empty:
        md += ["\n## Failed runs\n", to_markdown(fails)]
    text = "\n".join(md)
    atomic_write_text(sweep_dir / "comparison.md", text)
    if not quiet:
        print(text)
    return table
