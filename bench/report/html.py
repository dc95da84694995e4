"""The self-contained HTML report of a sweep (``report.html``).

:func:`load_sweep` gathers everything a report shows from a sweep directory
(run records, long-format metrics, their summary over seeds, collapse curves,
provenance); :func:`render_html` turns it into one HTML file with inline CSS,
inline SVG figures and a few lines of inline JavaScript for sorting the table.
The page fetches nothing: no external stylesheet, script, font or image.

Privacy: the report is built from aggregated metrics and run records only. It
never opens a data table, and run-record fields are shown selectively (never
dumped wholesale), so it cannot print a real record.
"""

from __future__ import annotations

import datetime as _dt
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import yaml

from bench import __version__
from bench.report import plots
from bench.results import (
    ARROW,
    TABLE_COLUMNS,
    TABLE_NOTE,
    SweepTables,
    atomic_write_text,
    fold_parameters,
    parameter_columns,
    sweep_tables,
)

MAX_ERROR_CHARS = 400
MAX_CONFIG_LINES = 250


# ----------------------------------------------------------------- the model
@dataclass
class Column:
    """One comparison-table column: header, and for metric columns its key and direction."""

    header: str
    metric: str | None = None
    subgroup: str = "all"
    direction: str | None = None


@dataclass
class Cell:
    """One table cell: display text, sort key and whether it is the column's best."""

    text: str
    sort: Any
    best: bool = False


@dataclass
class SweepReport:
    """Everything the HTML and markdown reports show for one sweep.

    Attributes:
        sweep_dir: the sweep directory.
        runs: one row per run.json (flattened); ``dir`` is the job dir relative to the sweep.
        metrics: concatenated long-format metrics (see :data:`bench.results.METRIC_COLUMNS`).
        summary: :func:`bench.results.summarize` of the metrics (mean/std/n over seeds), swept parameters
            folded into the generator label (:func:`bench.results.fold_parameters`).
        columns, rows: the comparison table with numeric sort keys and best cells marked.
        failed: runs whose status is not ok, with their (truncated) error.
        metric_errors: metric families that failed inside ok runs.
        collapse: concatenated ``collapse.parquet`` frames (empty when none).
        provenance: dataset fingerprints, versions, seeds, git commit, sweep config.
        dp: privacy accounting per generator x epsilon (empty when no DP run).
        audit_flags: runs whose empirical epsilon lower bound exceeded the claimed epsilon.
        risks: anonymeter risks with interval and baseline (:func:`risk_table`).
        vulnerable: most exposed training records by row index (:func:`vulnerable_records`).
        controls: each privacy metric read on the four controls with its null
            band and verdicts (:func:`attacks.controls.calibration`); empty
            when the sweep did not run all four on a dataset.
        warnings: the runs' data warnings (:func:`run_warnings`), e.g. a target leak.
    """

    sweep_dir: Path
    runs: pd.DataFrame
    metrics: pd.DataFrame
    summary: pd.DataFrame
    columns: list[Column]
    rows: list[list[Cell]]
    failed: pd.DataFrame
    metric_errors: pd.DataFrame
    collapse: pd.DataFrame
    provenance: dict[str, Any]
    dp: pd.DataFrame
    audit_flags: pd.DataFrame
    risks: pd.DataFrame
    vulnerable: pd.DataFrame
    controls: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: pd.DataFrame = field(default_factory=pd.DataFrame)
    generated_at: str = field(default_factory=lambda: _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"))

    @property
    def name(self) -> str:
        return self.sweep_dir.name


def load_sweep(sweep_dir: Path, tables: SweepTables | None = None) -> SweepReport:
    """Read a sweep directory into a :class:`SweepReport`.

    Args:
        sweep_dir: a Hydra multirun directory (numbered job dirs holding
            ``run.json`` + ``metrics.parquet``, optionally ``collapse.parquet``),
            or a single run's directory.
        tables: ``sweep_tables(sweep_dir)`` when the caller has already read it.
    Raises:
        FileNotFoundError: if ``sweep_dir`` does not exist.
    """
    sweep_dir = Path(sweep_dir)
    t = tables if tables is not None else sweep_tables(sweep_dir)
    runs, metrics = t.runs, t.metrics
    columns, rows = table_model(t.table, t.summary)
    summary = fold_parameters(t.summary)  # the plots tell configurations apart by the generator label
    failed = t.failures.copy()
    if "error" in failed.columns:
        failed["error"] = failed["error"].map(_clip)
    if "epsilon" in failed.columns:
        failed["epsilon"] = failed["epsilon"].map(_eps_label)
    return SweepReport(
        sweep_dir=sweep_dir,
        runs=runs,
        metrics=metrics,
        summary=summary,
        columns=columns,
        rows=rows,
        failed=failed,
        metric_errors=_metric_errors(runs),
        collapse=_collect_collapse(sweep_dir),
        provenance=provenance(sweep_dir, runs),
        dp=dp_accounting(runs),
        audit_flags=_audit_flags(runs),
        risks=risk_table(metrics),
        vulnerable=vulnerable_records(runs),
        controls=controls_table(runs, metrics),
        warnings=run_warnings(runs),
    )


# ------------------------------------------------------------ comparison table
def table_model(table: pd.DataFrame, summary: pd.DataFrame) -> tuple[list[Column], list[list[Cell]]]:
    """The comparison table with numeric sort keys and the best cell of each metric column marked.

    Best follows the column's direction, is chosen per dataset among
    non-reference generators (:data:`bench.report.plots.REFERENCE_GENERATORS`)
    from the mean over seeds, and marks every cell tied for best. A column with
    fewer than two candidates marks nothing.

    Args:
        table: :func:`bench.results.comparison_table` output.
        summary: :func:`bench.results.summarize` output for the same sweep.
    Returns:
        ``(columns, rows)``; each row holds one :class:`Cell` per column.
    """
    if table.empty:
        return [], []
    by_header: dict[str, tuple[str, str, str]] = {}
    for name, sub, label in TABLE_COLUMNS:
        for d, arrow in ARROW.items():
            by_header[f"{label} {arrow}"] = (name, sub, d)
    columns = []
    for h in table.columns:
        if h in by_header:
            name, sub, d = by_header[h]
            columns.append(Column(str(h), name, sub, d))
        else:
            columns.append(Column(str(h)))
    params = parameter_columns(table)
    means = {}
    if not summary.empty:
        keys = ["dataset", "generator", "epsilon", *params, "metric", "subgroup"]
        for k, m in zip(summary.reindex(columns=keys).itertuples(index=False), summary["mean"]):
            means[tuple(k)] = m
    rows: list[list[Cell]] = []
    for rec in table.to_dict("records"):
        row = []
        for c in columns:
            v = rec[c.header]
            if c.metric is not None:
                key = (
                    rec["dataset"],
                    rec["generator"],
                    rec["epsilon"],
                    *(rec[p] for p in params),
                    c.metric,
                    c.subgroup,
                )
                m = means.get(key, math.nan)
                row.append(Cell(str(v), None if _nan(m) else float(m)))
            elif c.header == "epsilon":
                e = plots.eps_value(v)
                row.append(Cell(str(v), -1.0 if math.isnan(e) else (1e300 if math.isinf(e) else e)))
            elif c.header == "runs":
                ok, _, tot = str(v).partition("/")
                row.append(Cell(str(v), _num(ok)))
            elif c.header == "eps spent":
                row.append(Cell(str(v), _num(str(v).split()[0])))
            else:
                row.append(Cell(str(v), str(v)))
        rows.append(row)
    ds_col = next((i for i, c in enumerate(columns) if c.header == "dataset"), None)
    gen_col = next((i for i, c in enumerate(columns) if c.header == "generator"), None)
    for j, c in enumerate(columns):
        if c.metric is None or c.direction not in ("maximize", "minimize"):
            continue  # descriptive columns (direction none) rank nothing
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            if gen_col is not None and row[gen_col].text in plots.REFERENCE_GENERATORS:
                continue
            if row[j].sort is None:
                continue
            groups.setdefault(row[ds_col].text if ds_col is not None else "", []).append(i)
        for idx in groups.values():
            if len(idx) < 2:
                continue
            vals = np.array([rows[i][j].sort for i in idx])
            best = vals.max() if c.direction == "maximize" else vals.min()
            if np.allclose(vals, best, rtol=1e-9, atol=1e-12):
                continue  # all tied: nothing stands out
            for i, v in zip(idx, vals):
                if math.isclose(v, best, rel_tol=1e-9, abs_tol=1e-12):
                    rows[i][j].best = True
    return columns, rows


# ------------------------------------------------------------------ provenance
def provenance(sweep_dir: Path, runs: pd.DataFrame) -> dict[str, Any]:
    """What ran and with what: datasets and fingerprints, seeds, versions, git commit, sweep config.

    Returns:
        dict with ``datasets`` (name -> fingerprints, split sizes),
        ``generators``, ``epsilons``, ``seeds``, ``n_runs``, ``status``
        (status -> count), ``versions`` (package -> distinct versions),
        ``config_hashes`` (count), ``git`` (commit, source), ``sweep_params``,
        ``overrides`` (multirun.yaml), ``run_overrides`` (override key -> every
        value any run used, from run.json), ``config_yaml`` (the sweep's composed config without
        Hydra's own node, truncated), ``total_s``.
    """
    out: dict[str, Any] = {
        "datasets": {},
        "generators": [],
        "epsilons": [],
        "seeds": [],
        "n_runs": len(runs),
        "status": {},
        "versions": {},
        "config_hashes": 0,
        "git": _git(sweep_dir, runs),
        "sweep_params": {},
        "overrides": [],
        "run_overrides": {},
        "config_yaml": "",
        "total_s": math.nan,
    }
    if not runs.empty:
        for ds, sub in runs.groupby("dataset", dropna=False):
            fps = sorted({str(f) for f in sub.get("dataset_fingerprint", pd.Series(dtype=object)).dropna()})
            sizes = next(
                (s for s in sub.get("split_sizes", pd.Series(dtype=object)).dropna() if isinstance(s, dict)), {}
            )
            out["datasets"][str(ds)] = {"fingerprints": fps, "split_sizes": sizes}
        out["generators"] = sorted(runs["generator"].dropna().astype(str).unique())
        out["epsilons"] = sorted(
            {_eps_label(e) for e in runs.get("epsilon", pd.Series(dtype=float))},
            key=lambda s: plots.eps_value(s) if not math.isnan(plots.eps_value(s)) else -1,
        )
        out["seeds"] = sorted({int(s) for s in pd.to_numeric(runs.get("seed"), errors="coerce").dropna()})
        out["status"] = runs["status"].value_counts().to_dict() if "status" in runs else {}
        vers: dict[str, set] = {}
        for v in runs.get("versions", pd.Series(dtype=object)).dropna():
            if isinstance(v, dict):
                for k, val in v.items():
                    vers.setdefault(str(k), set()).add(str(val))
        out["versions"] = {k: sorted(v) for k, v in vers.items()}
        if "config_hash" in runs:
            out["config_hashes"] = int(runs["config_hash"].nunique())
        tot = [t.get("total_s") for t in runs.get("timings", pd.Series(dtype=object)).dropna() if isinstance(t, dict)]
        out["total_s"] = float(np.nansum([x for x in tot if x is not None])) if tot else math.nan
    axes: dict[str, set] = {}
    for ov in runs["overrides"] if "overrides" in runs.columns else []:
        for o in ov if isinstance(ov, (list, tuple, np.ndarray)) else []:
            k, sep, v = str(o).partition("=")
            if sep:
                axes.setdefault(k.lstrip("+~"), set()).add(v)
    out["run_overrides"] = {k: sorted(v, key=_natural) for k, v in sorted(axes.items())}
    cfg = _sweep_config(sweep_dir)
    if cfg:
        hyd = cfg.pop("hydra", {}) or {}
        out["sweep_params"] = (hyd.get("sweeper") or {}).get("params") or {}
        out["overrides"] = list(((hyd.get("overrides") or {}).get("task")) or [])
        text = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
        lines = text.splitlines()
        if len(lines) > MAX_CONFIG_LINES:
            lines = lines[:MAX_CONFIG_LINES] + [f"# ... {len(lines) - MAX_CONFIG_LINES} more lines"]
        out["config_yaml"] = "\n".join(lines)
    return out


def _natural(v: str) -> tuple:
    try:
        return (0, float(v), "")
    except ValueError:
        return (1, 0.0, v)


def _sweep_config(sweep_dir: Path) -> dict[str, Any]:
    """multirun.yaml of a sweep, or the first job's .hydra/config.yaml; {} if neither parses."""
    cands = [sweep_dir / "multirun.yaml", sweep_dir / ".hydra" / "config.yaml"]
    cands += sorted(sweep_dir.glob("*/.hydra/config.yaml"))[:1]
    for p in cands:
        if p.is_file():
            try:
                d = yaml.safe_load(p.read_text())
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(d, dict):
                return d
    return {}


def _git(sweep_dir: Path, runs: pd.DataFrame) -> dict[str, Any]:
    """The commit the runs recorded (``git_commit`` in run.json), else the repository's HEAD now."""
    if not runs.empty and "git_commit" in runs.columns:
        commits = sorted({str(c) for c in runs["git_commit"].dropna()})
        if commits:
            return {"commit": ", ".join(commits), "source": "recorded by the runs"}
    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return {"commit": None, "source": "no git repository"}
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        flag = " (uncommitted changes)" if dirty.stdout.strip() else ""
        return {
            "commit": head.stdout.strip()[:12] + flag,
            "source": "repository HEAD when the report was built (runs did not record a commit)",
        }
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "source": "git not available"}


DP_ACCOUNTING_COLUMNS = [
    "dataset",
    "generator",
    "epsilon",
    "epsilon_spent",
    "delta",
    "delta_rationale",
    "accountant",
    "neighbouring",
    "rng",
    "bounds_source",
    "tuning_source",
    "outside",
    "scope",
    "full_scope",
    "notes",
]


def _joined(sub: pd.DataFrame, col: str, sep: str = "; ") -> str:
    """The distinct non-empty values of a run.json field over a cell's runs (lists flattened), joined."""
    if col not in sub:
        return "—"
    vals = sorted(
        {str(x) for s in sub[col].dropna() for x in (s if isinstance(s, (list, tuple, np.ndarray)) else [s]) if str(x)}
    )
    return sep.join(vals)


def dp_accounting(runs: pd.DataFrame) -> pd.DataFrame:
    """Privacy accounting per dataset x generator x requested epsilon, from the run records.

    Returns:
        Columns :data:`DP_ACCOUNTING_COLUMNS`: epsilon spent and delta (ranges
        over seeds), delta's rationale, accountant, neighbouring relation,
        RNG (seeded or secure), bounds source, tuning source, what is outside
        the claim, scope, full scope and notes (distinct values over the
        cell's runs, joined); empty when no run reported ``epsilon_spent``.
        ``full_scope`` is False if any run of the cell reported a partial
        scope (its epsilon does not cover all of training). Runs recorded
        before these fields existed show "—".
    """
    cols = DP_ACCOUNTING_COLUMNS
    if runs.empty or "epsilon_spent" not in runs.columns or runs["epsilon_spent"].isna().all():
        return pd.DataFrame(columns=cols)
    r = runs[runs["epsilon_spent"].notna()].copy()
    r["epsilon"] = r["epsilon"].map(_eps_label)
    out = []
    for (ds, g, e), sub in r.groupby(["dataset", "generator", "epsilon"], sort=True):
        spent = pd.to_numeric(sub["epsilon_spent"], errors="coerce")
        out.append(
            {
                "dataset": ds,
                "generator": g,
                "epsilon": e,
                "epsilon_spent": _fmt_range(spent),
                "delta": _fmt_range(pd.to_numeric(sub.get("delta"), errors="coerce")) if "delta" in sub else "—",
                "delta_rationale": _joined(sub, "dp_delta_rationale") or "—",
                "accountant": _joined(sub, "accountant", ", ") or "—",
                "neighbouring": _joined(sub, "dp_neighbouring", ", ") or "—",
                "rng": _joined(sub, "dp_rng") or "—",
                "bounds_source": _joined(sub, "dp_bounds_source") or "—",
                "tuning_source": _joined(sub, "dp_tuning_source") or "—",
                "outside": _joined(sub, "dp_outside") or ("nothing" if "dp_outside" in sub else "—"),
                "scope": _joined(sub, "dp_scope") or "—",
                "full_scope": all(_true(x) for x in sub.get("dp_full_scope", pd.Series([False]))),
                "notes": _joined(sub, "dp_notes")[:MAX_ERROR_CHARS],
            }
        )
    df = pd.DataFrame(out, columns=cols)
    df["_e"] = df["epsilon"].map(plots.eps_value)
    return df.sort_values(["dataset", "generator", "_e"]).drop(columns="_e").reset_index(drop=True)


WARNING_KEYS = ("leakage_warnings",)


def run_warnings(runs: pd.DataFrame) -> pd.DataFrame:
    """The warnings run records carry about the data (e.g. ``leakage_warnings``), once per dataset and text.

    Returns:
        Columns ``dataset, kind, warning, runs`` (how many runs raised it).
    """
    cols = ["dataset", "kind", "warning", "runs"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    count: dict[tuple[str, str, str], int] = {}
    for r in runs.to_dict("records"):
        for key in WARNING_KEYS:
            for w in r.get(key) if isinstance(r.get(key), list) else []:
                k = (str(r.get("dataset")), key.replace("_warnings", ""), str(w))
                count[k] = count.get(k, 0) + 1
    return pd.DataFrame([(*k, n) for k, n in sorted(count.items())], columns=cols)


def controls_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The controls panel: every calibrated privacy metric's readings on the four controls, per dataset.

    Only ok benchmark cells count. Returns :func:`attacks.controls.calibration`
    (empty when identity, noisy_identity, independent and faker did not all
    run on a dataset).
    """
    from attacks.controls import CONTROL_GENERATORS, calibration, null_levels
    from bench.results import cell_runs, ok_cell_metrics

    if runs.empty or metrics.empty or not set(CONTROL_GENERATORS) <= set(runs.get("generator", [])):
        return pd.DataFrame()
    cells = cell_runs(runs)
    ok = cells[cells["status"] == "ok"] if "status" in cells.columns else cells
    return calibration(ok_cell_metrics(runs, metrics), null_levels(ok))


RISK_METRICS = ("privacy.singling_out_risk", "privacy.linkability_risk", "privacy.inference_risk")


def risk_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Anonymeter risks per dataset x generator x epsilon with their interval and baseline.

    Reads the long metrics: each risk in :data:`RISK_METRICS` (and its
    per-mode variants such as ``privacy.singling_out_risk.univariate``) on the
    ``all`` subgroup, with ``ci_low``/``ci_high`` as reported (mean over seeds)
    and, when the attack module records them, ``<risk>_baseline`` (the naive
    attacker's success rate) and ``<risk>_below_baseline`` (1 when anonymeter
    warned that the attack was no better than the baseline).

    Returns:
        Columns ``dataset, generator, epsilon, risk, value, ci_low, ci_high,
        baseline, below_baseline, few_queries`` (``below_baseline`` and
        ``few_queries`` = share of seeds flagged); empty when the sweep ran
        no anonymeter attack.
    Source: anonymeter (Giomi et al., PoPETs 2023): risk = (attack − control) /
        (1 − control) with a Wilson interval.
    """
    cols = [
        "dataset",
        "generator",
        "epsilon",
        "risk",
        "value",
        "ci_low",
        "ci_high",
        "baseline",
        "below_baseline",
        "few_queries",
    ]
    if metrics.empty:
        return pd.DataFrame(columns=cols)
    m = metrics[(metrics["family"] == "privacy") & (metrics["subgroup"] == "all")]
    names = sorted(
        {
            n
            for n in m["metric"].unique()
            if any(n == r or n.startswith(r + ".") for r in RISK_METRICS)
            and not n.endswith(("_baseline", "_below_baseline", "_few_queries"))
        }
    )
    if not names:
        return pd.DataFrame(columns=cols)
    m = m.assign(eps=m["epsilon"].map(_eps_label))
    keys = ["dataset", "generator", "eps"]
    out = []
    for n in names:
        base = m[m["metric"] == n].groupby(keys)[["value", "ci_low", "ci_high"]].mean()
        bl = m[m["metric"] == n + "_baseline"].groupby(keys)["value"].mean().rename("baseline")
        bb = m[m["metric"] == n + "_below_baseline"].groupby(keys)["value"].mean().rename("below_baseline")
        fq = m[m["metric"] == n + "_few_queries"].groupby(keys)["value"].mean().rename("few_queries")
        t = base.join(bl, how="left").join(bb, how="left").join(fq, how="left").reset_index().assign(risk=n)
        out.append(t)
    df = pd.concat(out, ignore_index=True).rename(columns={"eps": "epsilon"})
    if "few_queries" not in df.columns:
        df["few_queries"] = np.nan
    df["_e"] = df["epsilon"].map(plots.eps_value).fillna(-1)
    return df.sort_values(["dataset", "risk", "generator", "_e"]).drop(columns="_e").reset_index(drop=True)[cols]


def vulnerable_records(runs: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The training records the membership attack found most exposed, by row index only.

    Looks for ``vulnerable_records`` lists (``{"row", "subgroup", "rank"}``)
    anywhere in each run record (the attack module writes them under
    ``attacks.membership``).

    Returns:
        Columns ``dataset, generator, epsilon, rows, outliers`` per cell:
        ``rows`` = up to ``top`` row ids by best rank over seeds (``†`` marks
        an outlier), ``outliers`` = how many of them are outliers; empty when
        no run lists any.
    """
    cols = ["dataset", "generator", "epsilon", "rows", "outliers"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    acc: dict[tuple, dict[int, tuple[int, bool]]] = {}
    for r in runs.to_dict("records"):
        lists = list(_find_key(r, "vulnerable_records"))
        if not lists:
            continue
        cell = acc.setdefault((str(r.get("dataset")), str(r.get("generator")), _eps_label(r.get("epsilon"))), {})
        for lst in lists:
            for v in lst if isinstance(lst, list) else []:
                if not isinstance(v, dict) or "row" not in v:
                    continue
                row, rank = int(v["row"]), int(v.get("rank") or 10**6)
                out = str(v.get("subgroup")) == "outliers"
                if row not in cell or rank < cell[row][0]:
                    cell[row] = (rank, out)
    rows = []
    for (ds, g, e), cell in acc.items():
        best = sorted(cell.items(), key=lambda kv: (kv[1][0], kv[0]))[:top]
        rows.append(
            {
                "dataset": ds,
                "generator": g,
                "epsilon": e,
                "rows": ", ".join(f"{k}{'†' if o else ''}" for k, (_, o) in best),
                "outliers": sum(o for _, (_, o) in best),
            }
        )
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df
    df["_e"] = df["epsilon"].map(plots.eps_value).fillna(-1)
    return df.sort_values(["dataset", "generator", "_e"]).drop(columns="_e").reset_index(drop=True)


def _find_key(obj: Any, key: str, depth: int = 0):
    if depth > 6:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            else:
                yield from _find_key(v, key, depth + 1)


def _audit_flags(runs: pd.DataFrame) -> pd.DataFrame:
    cols = ["dir", "dataset", "generator", "epsilon", "seed"]
    if runs.empty or "audit_flagged" not in runs.columns:
        return pd.DataFrame(columns=cols)
    flagged = runs[[_true(x) for x in runs["audit_flagged"]]]
    out = flagged[[c for c in cols if c in flagged.columns]].copy()
    if "epsilon" in out:
        out["epsilon"] = out["epsilon"].map(_eps_label)
    return out.reset_index(drop=True)


def _metric_errors(runs: pd.DataFrame) -> pd.DataFrame:
    cols = ["dir", "generator", "epsilon", "seed", "family", "error"]
    if runs.empty or "metric_errors" not in runs.columns:
        return pd.DataFrame(columns=cols)
    out = []
    for r in runs.to_dict("records"):
        errs = r.get("metric_errors")
        if isinstance(errs, dict):
            for fam, err in errs.items():
                out.append(
                    {
                        "dir": r.get("dir"),
                        "generator": r.get("generator"),
                        "epsilon": _eps_label(r.get("epsilon")),
                        "seed": r.get("seed"),
                        "family": fam,
                        "error": _clip(err),
                    }
                )
    return pd.DataFrame(out, columns=cols)


def _collect_collapse(sweep_dir: Path) -> pd.DataFrame:
    frames = []
    for p in sorted(sweep_dir.rglob("collapse.parquet")):
        try:
            frames.append(pd.read_parquet(p))
        except Exception:  # noqa: BLE001 - a torn file is skipped, as in collect()
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ------------------------------------------------------------------- sections
@dataclass
class Figure:
    """One figure section: id, title, inline SVG, how-to-read line, and an optional data table."""

    id: str
    title: str
    svg: str
    how: str
    note: str = ""


HOW_TO_READ = {
    "frontier": "Each point is one generator × ε (mean over seeds; bars ±1 std). Further toward the better "
    "end of the x axis, an attacker tells training members from non-members less well; higher means "
    "synthetic marginals and pairs closer to the real training split. Points on the black line are "
    "Pareto-optimal: no other configuration is both more private and more faithful. Hollow markers "
    "are references (identity copies the training data).",
    "epsilon": "Solid lines: each DP generator across its requested ε (log scale; bars ±1 std over seeds). "
    "Dashed lines: non-DP generators as reference levels. A DP generator should approach its non-DP "
    "counterpart as ε grows. If the claimed ε holds, no attack's advantage (TPR − FPR) can exceed the "
    "black ceiling (e^ε − 1)/(e^ε + 1) (δ adds at most 2δ/(e^ε + 1)); on the audit panel an "
    "empirical lower bound above the diagonal contradicts the claimed ε.",
    "subgroups": "For each privacy metric measured on outliers: the attack on the most atypical training "
    "records (outliers, pink) beside typical records, or all records when the metric has no typical "
    "subgroup (blue). When the pink bar is worse than the blue one (see the axis arrow), outliers "
    "are more exposed than the overall number suggests. Cells with too few outliers to measure are "
    "left out.",
    "tails": "x: how many times a rare category (below 1% of rows) occurs in the real training split; y: the "
    "share of those categories that appear at least once in the synthetic table. A line that drops "
    "toward the left is erasing the tail: categories seen once are the first to go.",
    "collapse": "Each generation is trained on the previous generation's synthetic output (line style = mode). "
    "Curves that fall with the generation show what recursive training erases; bands are ±1 std "
    "over seeds.",
    "cost": "Wall-clock time to fit one generator and the job's peak resident memory (max RSS of the whole "
    "process, evaluation included), mean over seeds with ±1 std. Fit time uses a log scale when it "
    "spans more than 50×.",
}

ABSENT_HINTS = {
    "frontier": "Privacy–fidelity frontier: no privacy metric in this sweep (run with attacks=default).",
    "epsilon": "Metrics against ε: no generator ran with a finite ε (sweep a DP generator's epsilon).",
    "subgroups": "Outliers vs typical records: no privacy metric was measured on outliers.",
    "tails": "Tail retention by count bin: tails.rare_category_retention by count bin was not measured.",
    "collapse": "Model collapse: no collapse.parquet in this sweep (task=collapse).",
    "cost": "Cost: no cost metrics recorded.",
}


def figures(rep: SweepReport) -> tuple[list[Figure], list[str]]:
    """Render every figure the sweep has data for.

    Returns:
        ``(figures, absent)``: the figure sections in page order, and one line
        per section skipped for lack of data.
    """
    figs, absent = [], []

    def add(key: str, title: str, fig, note: str = "") -> None:
        if fig is None:
            absent.append(ABSENT_HINTS[key])
        else:
            figs.append(Figure(key, title, plots.to_svg(fig, key), HOW_TO_READ[key], note))

    pts, xa, ya = plots.frontier_points(rep.summary)
    note = (
        f"x: {xa.metric}, y: {ya.metric}; {int(pts['on_front'].sum())} of {len(pts)} points on the front."
        if xa is not None
        else ""
    )
    add("frontier", "Privacy–fidelity frontier", plots.fig_frontier(pts, xa, ya), note)
    series = plots.epsilon_series(rep.summary)
    deltas = {}
    if not rep.dp.empty:
        for g, d in zip(rep.dp["generator"], rep.dp["delta"]):
            try:
                deltas[g] = float(str(d).split("–")[-1])
            except ValueError:
                pass
    add(
        "epsilon",
        "Fidelity, utility and privacy against ε",
        plots.fig_against_epsilon(series, deltas),
        f"DP generators: {', '.join(plots.dp_generators(rep.summary))}." if not series.empty else "",
    )
    pairs = plots.subgroup_pairs(rep.summary)
    add("subgroups", "Outliers vs typical records", plots.fig_subgroups(pairs))
    add("tails", "Rare-category retention by count bin", plots.fig_tail_bins(plots.tail_bins(rep.summary)))
    add("collapse", "Model collapse across generations", plots.fig_collapse(plots.collapse_curves(rep.collapse)))
    add("cost", "Cost: fit time and peak memory", plots.fig_cost(plots.cost_table(rep.summary)))
    return figs, absent


# -------------------------------------------------------------------- render
TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"  # the page: Jinja2, autoescaped


def render_html(rep: SweepReport) -> str:
    """The report as one self-contained HTML document (inline CSS, SVG and JS; no URL fetched)."""
    from attacks.controls import CONTROL_GENERATORS

    figs, absent = figures(rep)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    toc = [("provenance", "Provenance"), ("table", "Comparison")]
    if not rep.controls.empty:
        toc.append(("controls", "Controls"))
    toc += [(f.id, f.title.split(":")[0]) for f in figs]
    if not rep.risks.empty or not rep.vulnerable.empty:
        toc.append(("privacy", "Privacy details"))
    toc.append(("failures", "Failed runs"))
    gen_col = next((i for i, c in enumerate(rep.columns) if c.header == "generator"), 0)
    total = rep.provenance.get("total_s", math.nan)
    risks = rep.risks.to_dict("records")
    risk_parts = [
        {"title": "", "details": False, "rows": [r for r in risks if r["risk"] in RISK_METRICS]},
        {
            "title": "Per attack mode and secret column",
            "details": True,
            "rows": [r for r in risks if r["risk"] not in RISK_METRICS],
        },
    ]
    return env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        rep=rep,
        prov=rep.provenance,
        figs=figs,
        absent=absent,
        toc=toc,
        version=__version__,
        risk_parts=risk_parts,
        refs=plots.REFERENCE_GENERATORS,
        gen_col=gen_col,
        fmt=_cell,
        fmt3=_fmt3,
        share=_share,
        total_s="—" if _nan(total) else f"{total:.0f} s",
        table_note=TABLE_NOTE,
        controls_by_ds=[(ds, g.to_dict("records")) for ds, g in rep.controls.groupby("dataset", sort=True)]
        if not rep.controls.empty
        else [],
        verdict=verdict,
        control_generators=CONTROL_GENERATORS,
    )


def write_html(sweep_dir: Path, rep: SweepReport | None = None) -> Path:
    """Write ``report.html`` into ``sweep_dir`` (atomically) and return its path."""
    rep = load_sweep(sweep_dir) if rep is None else rep
    path = Path(sweep_dir) / "report.html"
    atomic_write_text(path, render_html(rep))
    return path


# -------------------------------------------------------------------- helpers
def verdict(r: dict[str, Any]) -> str:
    """One controls-panel verdict in words: ``calibrated`` or what failed."""
    if r["passes"]:
        return "calibrated"
    why = [
        w
        for k, w in (
            ("separates", "identity inside the null band"),
            ("nulls_at_null", "a null control outside the band"),
            ("between", "noisy_identity not strictly between"),
        )
        if not r[k]
    ]
    return "fails: " + "; ".join(why)


def _eps_label(e: Any) -> str:
    v = plots.eps_value(e)
    return "—" if math.isnan(v) else ("inf" if math.isinf(v) else f"{v:g}")


def _fmt_range(s: pd.Series) -> str:
    s = s.dropna() if s is not None else pd.Series(dtype=float)
    if s.empty:
        return "—"
    lo, hi = float(s.min()), float(s.max())
    return f"{lo:.3g}" if math.isclose(lo, hi, rel_tol=1e-6) else f"{lo:.3g}–{hi:.3g}"


def _clip(v: Any) -> str:
    s = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
    return s if len(s) <= MAX_ERROR_CHARS else s[:MAX_ERROR_CHARS] + " …"


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:g}"
    return str(v)


def _true(x: Any) -> bool:
    """True only for a real true value (None / NaN / missing -> False)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return False
    return bool(x)


def _fmt3(v: Any) -> str:
    return "—" if _nan(v) else f"{float(v):.3f}"


def _share(v: Any) -> str:
    if _nan(v):
        return "—"
    v = float(v)
    return "no" if v == 0 else ("yes" if v == 1 else f"in {v:.0%} of seeds")


def _nan(v: Any) -> bool:
    try:
        return v is None or math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def _num(s: str) -> float | None:
    try:
        return float(s)
    except (TypeError, ValueError):
        return None
