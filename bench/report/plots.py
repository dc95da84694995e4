"""What the report draws: data selection for each section and its matplotlib figure.

Every section has two halves: a *selection* function that turns the sweep's
summary (:func:`bench.results.summarize`: one row per dataset x generator x
epsilon x metric x subgroup with ``mean``, ``std``, ``n`` over seeds) into a
small tidy frame, and a ``fig_*`` function that draws that frame. The HTML
report embeds the figures as inline SVG (:func:`to_svg`); the markdown report
prints the frames as tables. A selection returns an empty frame (and a figure
function ``None``) when the sweep lacks the data, and the section is skipped.

Nothing here reads a table of records: inputs are aggregated metrics only.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Generators that are references, not contenders: ``identity`` copies the
#: training table (the fidelity ceiling and the privacy floor). They are drawn
#: but never marked "best".
REFERENCE_GENERATORS = frozenset({"identity", "noisy_identity"})  # controls: shown, never ranked

#: Privacy metrics usable as the frontier's x axis, in order of preference.
FRONTIER_PRIVACY = [
    "privacy.mia_auc",
    "privacy.mia_advantage",
    "privacy.epsilon_lower_bound",
    "privacy.mia_tpr_at_fpr_0.01",
    "privacy.dcr_member_share",
    "privacy.singling_out_risk",
    "privacy.linkability_risk",
    "privacy.inference_risk",
]
#: Fidelity metrics usable as the frontier's y axis, in order of preference.
FRONTIER_FIDELITY = ["fidelity.quality_score", "fidelity.column_shapes", "fidelity.pair_trends"]
#: Panels of the "against epsilon" figure: (family label, candidate metrics).
EPSILON_PANELS = [
    ("fidelity", ["fidelity.quality_score", "fidelity.column_shapes"]),
    ("utility", ["utility.tstr_auc", "utility.tstr_trtr_ratio"]),
    ("privacy (MIA)", ["privacy.mia_auc"]),
    ("privacy (MIA advantage)", ["privacy.mia_advantage", "privacy.shadow_mia_advantage"]),
    ("privacy (audit)", ["privacy.epsilon_lower_bound"]),
]
#: Tail-retention count bins, as metric subgroups, in display order (bench.metrics.tails.COUNT_BINS).
TAIL_BINS = ["count_1", "count_2-5", "count_6-20", "count_>20"]
COST_METRICS = [("cost.fit_s", "fit time (s)"), ("cost.peak_mem_mb", "peak memory (MB)")]

_WIDTH = 11.0  # inches; figures are scaled to the page width in the HTML


# --------------------------------------------------------------------- helpers
def eps_value(label: Any) -> float:
    """Numeric epsilon of a summary epsilon label: ``"—"`` -> NaN (no DP), ``"inf"`` -> inf."""
    if label is None:
        return math.nan
    if isinstance(label, (int, float, np.floating)):
        return float(label)
    s = str(label).strip()
    if s in ("—", "", "nan", "None"):
        return math.nan
    if s == "inf":
        return math.inf
    try:
        return float(s)
    except ValueError:
        return math.nan


def is_dp(label: Any) -> bool:
    """True when an epsilon label is a finite privacy budget."""
    e = eps_value(label)
    return math.isfinite(e)


def config_label(generator: str, eps: Any, dataset: str | None = None) -> str:
    """Display name of one generator x epsilon cell, e.g. ``dp_ctgan ε=1``."""
    e = eps_value(eps)
    s = str(generator) if math.isnan(e) else f"{generator} ε={'∞' if math.isinf(e) else f'{e:g}'}"
    return f"{dataset}/{s}" if dataset else s


def short_metric(name: str) -> str:
    """``privacy.mia_auc`` -> ``mia_auc``."""
    return name.split(".", 1)[1] if "." in name else name


def palette(generators: Iterable[str]) -> dict[str, Any]:
    """One stable colour per generator (tab10, then tab20), by sorted name."""
    names = sorted(set(map(str, generators)))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {g: cmap(i % cmap.N) for i, g in enumerate(names)}


def select(summary: pd.DataFrame, metric: str, subgroup: str = "all") -> pd.DataFrame:
    """Rows of ``summary`` for one metric and subgroup (may be empty)."""
    if summary.empty:
        return summary
    return summary[(summary["metric"] == metric) & (summary["subgroup"] == subgroup)].copy()


def first_present(summary: pd.DataFrame, candidates: Iterable[str], subgroup: str = "all") -> str | None:
    """The first metric of ``candidates`` with at least one finite mean in ``summary``."""
    for m in candidates:
        sel = select(summary, m, subgroup)
        if not sel.empty and sel["mean"].notna().any():
            return m
    return None


def _multi_dataset(summary: pd.DataFrame) -> bool:
    return summary["dataset"].nunique() > 1 if not summary.empty else False


def _labels(df: pd.DataFrame, multi: bool) -> list[str]:
    return [config_label(g, e, d if multi else None) for d, g, e in zip(df["dataset"], df["generator"], df["epsilon"])]


def _sort_cells(df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(_e=[(-1.0 if math.isnan(v) else v) for v in map(eps_value, df["epsilon"])])
    return df.sort_values(["dataset", "generator", "_e"]).drop(columns="_e").reset_index(drop=True)


# --------------------------------------------------------------------- frontier
def pareto_mask(
    x: np.ndarray, y: np.ndarray, x_direction: str = "minimize", y_direction: str = "maximize"
) -> np.ndarray:
    """Which points are Pareto-optimal (non-dominated).

    Args:
        x, y: shape (k,) scores of k points; NaN points are never on the front.
        x_direction, y_direction: ``"maximize"`` or ``"minimize"`` for each axis.
    Returns:
        Boolean array (k,): True where no other point is at least as good on
        both axes and strictly better on one.
    Source: the standard definition of Pareto dominance (e.g. Deb, *Multi-Objective
        Optimization using Evolutionary Algorithms*, 2001, Def. 2.5).
    """
    x = np.asarray(x, float) * (1 if x_direction == "maximize" else -1)
    y = np.asarray(y, float) * (1 if y_direction == "maximize" else -1)
    ok = ~(np.isnan(x) | np.isnan(y))
    mask = np.zeros(len(x), bool)
    for i in np.flatnonzero(ok):
        others = ok.copy()
        others[i] = False
        dom = others & (x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))
        mask[i] = not dom.any()
    return mask


def _label_offsets(x: np.ndarray, y: np.ndarray, near: float = 0.08, step: float = 11.0) -> list[float]:
    """Vertical label offsets (points) that fan out labels of points closer than ``near`` (axis fraction).

    Within a cluster, labels keep the points' vertical order: the highest point's
    label goes up, the lowest one's down.
    """

    def scale(v):
        span = np.nanmax(v) - np.nanmin(v) if len(v) else 0
        return (v - np.nanmin(v)) / span if span > 0 else np.zeros_like(v)

    xs, ys = scale(x), scale(y)
    out: list[float] = []
    for i in range(len(x)):
        cluster = [j for j in range(len(x)) if abs(xs[j] - xs[i]) < near and abs(ys[j] - ys[i]) < near]
        order = sorted(cluster, key=lambda j: (-ys[j], j))
        out.append(step * ((len(order) - 1) / 2 - order.index(i)))
    return out


@dataclass
class Axis:
    """One axis of a two-metric plot: metric key and direction."""

    metric: str
    direction: str


def frontier_points(summary: pd.DataFrame) -> tuple[pd.DataFrame, Axis | None, Axis | None]:
    """One point per dataset x generator x epsilon: privacy risk (x) against fidelity (y).

    The x metric is the first of :data:`FRONTIER_PRIVACY` the sweep measured,
    the y metric the first of :data:`FRONTIER_FIDELITY`. The Pareto front is
    computed per dataset over every point (references included).

    Returns:
        ``(points, x_axis, y_axis)``; points has columns ``dataset, generator,
        epsilon, label, x, x_std, y, y_std, on_front``. Empty (axes None) when
        the sweep has no privacy or no fidelity metric.
    """
    xm, ym = first_present(summary, FRONTIER_PRIVACY), first_present(summary, FRONTIER_FIDELITY)
    empty = pd.DataFrame(columns=["dataset", "generator", "epsilon", "label", "x", "x_std", "y", "y_std", "on_front"])
    if xm is None or ym is None:
        return empty, None, None
    keys = ["dataset", "generator", "epsilon"]
    xs, ys = select(summary, xm), select(summary, ym)
    pts = (
        xs[keys + ["mean", "std"]]
        .rename(columns={"mean": "x", "std": "x_std"})
        .merge(ys[keys + ["mean", "std"]].rename(columns={"mean": "y", "std": "y_std"}), on=keys, how="inner")
    )
    pts = pts[pts["x"].notna() & pts["y"].notna()]
    if pts.empty:
        return empty, None, None
    xa, ya = Axis(xm, xs["direction"].iloc[0]), Axis(ym, ys["direction"].iloc[0])
    pts = _sort_cells(pts)
    pts["label"] = _labels(pts, _multi_dataset(pts))
    pts["on_front"] = False
    for _, idx in pts.groupby("dataset").groups.items():
        sub = pts.loc[idx]
        pts.loc[idx, "on_front"] = pareto_mask(sub["x"].to_numpy(), sub["y"].to_numpy(), xa.direction, ya.direction)
    return pts[empty.columns.tolist()], xa, ya


def fig_frontier(points: pd.DataFrame, x: Axis, y: Axis) -> plt.Figure | None:
    """Scatter of privacy risk against fidelity, Pareto front joined by a line; one panel per dataset."""
    if points.empty or x is None or y is None:
        return None
    datasets = sorted(points["dataset"].unique())
    colors = palette(points["generator"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(min(_WIDTH, 6.5 * len(datasets)), 4.6), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        sub = points[points["dataset"] == ds]
        offsets = _label_offsets(sub["x"].to_numpy(float), sub["y"].to_numpy(float))
        for (_, r), dy in zip(sub.iterrows(), offsets):
            ref = r["generator"] in REFERENCE_GENERATORS
            ax.errorbar(
                r["x"],
                r["y"],
                xerr=_nz(r["x_std"]),
                yerr=_nz(r["y_std"]),
                fmt="o",
                ms=8 if r["on_front"] else 6,
                color=colors[r["generator"]],
                mfc="none" if ref else colors[r["generator"]],
                mec="black" if r["on_front"] else colors[r["generator"]],
                mew=1.5 if r["on_front"] else 1,
                elinewidth=0.8,
                capsize=2,
                alpha=0.95,
                zorder=3,
            )
            ax.annotate(
                config_label(r["generator"], r["epsilon"]),
                (r["x"], r["y"]),
                fontsize=7.5,
                xytext=(5, 4 + dy),
                textcoords="offset points",
                zorder=4,
                arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey"} if dy else None,
            )
        front = sub[sub["on_front"]].sort_values("x")
        if len(front) > 1:
            ax.plot(front["x"], front["y"], "-", color="black", lw=1.2, alpha=0.6, zorder=2, label="Pareto front")
        elif len(front) == 1:
            ax.plot([], [], "o", mfc="none", mec="black", label="Pareto front")
        if x.metric == "privacy.mia_auc":
            ax.axvline(0.5, color="grey", ls=":", lw=1)
            ax.text(0.5, 0.97, " chance", transform=ax.get_xaxis_transform(), fontsize=7, color="grey", va="top")
        ax.set_xlabel(f"{short_metric(x.metric)} ({_arrow(x.direction)} better)")
        ax.set_ylabel(f"{short_metric(y.metric)} ({_arrow(y.direction)} better)")
        ax.set_title(f"{ds}: privacy–fidelity frontier", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5, loc="best")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ against epsilon
def advantage_ceiling(epsilon: np.ndarray | float, delta: float = 0.0) -> np.ndarray:
    """Largest membership advantage (TPR − FPR) any attack can reach against an (ε, δ)-DP mechanism.

    Args:
        epsilon: privacy budget(s), >= 0.
        delta: the δ of (ε, δ)-DP; the issue's curve is δ = 0.
    Returns:
        ``(e^ε − 1 + 2δ) / (e^ε + 1)``, capped at 1; shape of ``epsilon``.
    Source: Humphries et al., "Investigating Membership Inference Attacks under
        Data Dependencies" (2023), Thm. 1; follows from the hypothesis-testing
        region of Kairouz, Oh & Viswanath (2015).
    """
    e = np.exp(np.asarray(epsilon, float))
    return np.minimum(1.0, (e - 1.0 + 2.0 * delta) / (e + 1.0))


def dp_generators(summary: pd.DataFrame) -> list[str]:
    """Generators that ran with at least one finite epsilon."""
    if summary.empty:
        return []
    return sorted(summary.loc[[is_dp(e) for e in summary["epsilon"]], "generator"].unique())


def epsilon_series(summary: pd.DataFrame) -> pd.DataFrame:
    """The metrics of :data:`EPSILON_PANELS` against epsilon, per DP generator, with non-DP references.

    Returns:
        Columns ``panel, metric, direction, dataset, generator, epsilon (float;
        NaN for a non-DP reference), role ("dp" | "reference"), mean, std, n``.
        Empty when no generator ran with a finite epsilon.
    """
    cols = ["panel", "metric", "direction", "dataset", "generator", "epsilon", "role", "mean", "std", "n"]
    dps = dp_generators(summary)
    if not dps:
        return pd.DataFrame(columns=cols)
    frames = []
    for panel, cands in EPSILON_PANELS:
        m = first_present(summary, cands)
        if m is None:
            continue
        sel = select(summary, m)
        sel = sel[sel["mean"].notna()]
        eps = sel["epsilon"].map(eps_value)
        dp = sel[(sel["generator"].isin(dps)) & np.isfinite(eps)].assign(role="dp")
        ref = sel[~np.isfinite(eps) | ~sel["generator"].isin(dps)].assign(role="reference")
        for part in (dp, ref):
            if not part.empty:
                frames.append(part.assign(panel=panel, epsilon=part["epsilon"].map(eps_value)))
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)[cols]
    return out.sort_values(["panel", "dataset", "role", "generator", "epsilon"]).reset_index(drop=True)


def fig_against_epsilon(series: pd.DataFrame, deltas: dict[str, float] | None = None) -> plt.Figure | None:
    """One panel per metric family, metric against epsilon (log x) for each DP generator.

    Non-DP generators (and DP generators run at ε = ∞) are dashed horizontal
    reference lines. The MIA-advantage panel carries the DP ceiling
    (e^ε − 1)/(e^ε + 1); the audit panel the line "lower bound = claimed ε".
    """
    if series.empty:
        return None
    panels = [p for p, _ in EPSILON_PANELS if p in set(series["panel"])]
    datasets = sorted(series["dataset"].unique())
    colors = palette(series["generator"])
    slots = [
        (ds, p)
        for ds in datasets
        for p in panels
        if not series[(series["panel"] == p) & (series["dataset"] == ds)].empty
    ]
    ncol = min(3, len(slots))
    nrow = math.ceil(len(slots) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(_WIDTH, 3.5 * nrow + 0.3), squeeze=False)
    for j in range(len(slots), nrow * ncol):
        axes[j // ncol][j % ncol].set_visible(False)
    for k, (ds, panel) in enumerate(slots):
        ax = axes[k // ncol][k % ncol]
        sub = series[(series["panel"] == panel) & (series["dataset"] == ds)]
        dp = sub[sub["role"] == "dp"]
        for g, gs in dp.groupby("generator"):
            gs = gs.sort_values("epsilon")
            ax.errorbar(
                gs["epsilon"],
                gs["mean"],
                yerr=_nz(gs["std"]),
                fmt="o-",
                color=colors[g],
                lw=1.5,
                ms=5,
                capsize=2,
                label=g,
            )
        lo, hi = _eps_range(dp["epsilon"])
        for _, r in sub[sub["role"] == "reference"].iterrows():
            lab = config_label(r["generator"], r["epsilon"]) + " (ref)"
            ax.axhline(r["mean"], color=colors[r["generator"]], ls="--", lw=1, alpha=0.8, label=lab)
        if panel == "privacy (MIA advantage)":
            grid = np.geomspace(lo, hi, 100)
            delta = max((deltas or {}).values(), default=0.0) if deltas else 0.0
            ax.plot(grid, advantage_ceiling(grid), color="black", lw=1.2, label="DP ceiling (e^ε−1)/(e^ε+1)")
            if delta > 0:
                ax.plot(grid, advantage_ceiling(grid, delta), color="black", lw=0.8, ls=":", label=f"with δ={delta:g}")
        if panel == "privacy (audit)":
            grid = np.geomspace(lo, hi, 50)
            ax.plot(grid, grid, color="black", lw=1.2, label="claimed ε")
            if (sub["mean"] > 0).all():
                ax.set_yscale("log")  # log-log: the diagonal stays a straight line
        if panel == "privacy (MIA)" and sub["metric"].iloc[0] == "privacy.mia_auc":
            ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlim(lo / 1.3, hi * 1.3)
        ticks = sorted(set(dp["epsilon"]))
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])  # the requested budgets, not log-scale minor labels
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("ε (requested)")
        m = sub["metric"].iloc[0]
        ax.set_ylabel(f"{short_metric(m)} ({_arrow(sub['direction'].iloc[0])})")
        ax.set_title(f"{ds}: {panel}" if len(datasets) > 1 else panel, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    # one legend for all panels, below them (per-panel legends covered the lines)
    seen: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    rows = math.ceil(len(seen) / 4)
    height = 3.5 * nrow + 0.3 + 0.22 * rows
    fig.set_size_inches(_WIDTH, height)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=4, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.22 * rows / height + 0.01, 1, 1))
    return fig


def _eps_range(eps: pd.Series) -> tuple[float, float]:
    e = np.asarray([v for v in eps if math.isfinite(v) and v > 0], float)
    if len(e) == 0:
        return 0.1, 10.0
    lo, hi = float(e.min()), float(e.max())
    return (lo, hi * 10) if lo == hi else (lo, hi)


# -------------------------------------------------------- outliers vs typical
def subgroup_pairs(summary: pd.DataFrame, family: str = "privacy", max_metrics: int = 6) -> pd.DataFrame:
    """Metrics of ``family`` measured on the ``outliers`` subgroup, beside a baseline subgroup.

    The baseline is ``typical`` when the metric reports it, else ``all``
    (e.g. anonymeter risks computed on all records and on outliers). Cells
    where either value is NaN (too few outliers to measure) are dropped.
    Metrics of the comparison table come first; at most ``max_metrics``.

    Returns:
        Columns ``metric, direction, baseline_kind, dataset, generator,
        epsilon, label, baseline, baseline_std, outliers, outliers_std, gap``
        (gap = outliers − baseline); empty when no metric has both.
    """
    from bench.results import TABLE_COLUMNS

    cols = [
        "metric",
        "direction",
        "baseline_kind",
        "dataset",
        "generator",
        "epsilon",
        "label",
        "baseline",
        "baseline_std",
        "outliers",
        "outliers_std",
        "gap",
    ]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    s = summary[
        (summary["family"] == family)
        & summary["mean"].notna()
        & ~summary["metric"].str.endswith(("_baseline", "_below_baseline"))
    ]
    keys = ["metric", "direction", "dataset", "generator", "epsilon"]
    o = s[s["subgroup"] == "outliers"]
    if o.empty:
        return pd.DataFrame(columns=cols)
    frames = []
    for m, om in o.groupby("metric", sort=False):
        kind = "typical" if ((s["metric"] == m) & (s["subgroup"] == "typical")).any() else "all"
        b = s[(s["metric"] == m) & (s["subgroup"] == kind)][keys + ["mean", "std"]]
        both = b.rename(columns={"mean": "baseline", "std": "baseline_std"}).merge(
            om[keys + ["mean", "std"]].rename(columns={"mean": "outliers", "std": "outliers_std"}), on=keys
        )
        if not both.empty:
            frames.append(both.assign(baseline_kind=kind))
    if not frames:
        return pd.DataFrame(columns=cols)
    both = pd.concat(frames, ignore_index=True)
    order = [m for m, _, _ in TABLE_COLUMNS]
    metrics = sorted(both["metric"].unique(), key=lambda m: (order.index(m) if m in order else len(order), m))
    metrics = metrics[:max_metrics]
    both = _sort_cells(both[both["metric"].isin(metrics)])
    both["_m"] = both["metric"].map(metrics.index)
    both = both.sort_values("_m", kind="stable").drop(columns="_m").reset_index(drop=True)
    both["label"] = _labels(both, _multi_dataset(both))
    both["gap"] = both["outliers"] - both["baseline"]
    return both[cols]


def fig_subgroups(pairs: pd.DataFrame) -> plt.Figure | None:
    """Paired bars (baseline, outliers) per generator x epsilon; one panel per privacy metric."""
    if pairs.empty:
        return None
    metrics = list(dict.fromkeys(pairs["metric"]))
    ncol = min(3, len(metrics))
    nrow = math.ceil(len(metrics) / ncol)
    n_cells = pairs.groupby("metric").size().max()
    fig, axes = plt.subplots(nrow, ncol, figsize=(_WIDTH, max(2.8, 0.32 * n_cells + 1.4) * nrow), squeeze=False)
    for i, m in enumerate(metrics):
        ax = axes[i // ncol][i % ncol]
        sub = pairs[pairs["metric"] == m].reset_index(drop=True)
        kind = sub["baseline_kind"].iloc[0]
        yy = np.arange(len(sub))
        ax.barh(
            yy - 0.2,
            sub["baseline"],
            height=0.4,
            xerr=_nz(sub["baseline_std"]),
            color="#8da0cb",
            label="typical" if kind == "typical" else "all records",
            capsize=2,
        )
        ax.barh(
            yy + 0.2,
            sub["outliers"],
            height=0.4,
            xerr=_nz(sub["outliers_std"]),
            color="#e78ac3",
            label="outliers",
            capsize=2,
        )
        ax.set_yticks(yy, sub["label"], fontsize=7.5)
        ax.invert_yaxis()
        if m.startswith("privacy.mia_auc"):
            ax.axvline(0.5, color="grey", ls=":", lw=1)
        ax.set_xlabel(f"{short_metric(m)} ({_arrow(sub['direction'].iloc[0])} better)", fontsize=8.5)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7, loc="lower right")
    for j in range(len(metrics), nrow * ncol):
        axes[j // ncol][j % ncol].set_visible(False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------- tail retention
def tail_bins(summary: pd.DataFrame, metric: str = "tails.rare_category_retention") -> pd.DataFrame:
    """Rare-category retention by real-count bin, one row per cell x bin.

    Returns:
        Columns ``dataset, generator, epsilon, label, bin, mean, std, n``; bins
        in the order of :data:`TAIL_BINS` (``count_1`` = categories seen once in
        the real training split). Empty when the metric has no count-bin subgroup.
    """
    cols = ["dataset", "generator", "epsilon", "label", "bin", "mean", "std", "n"]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    s = summary[(summary["metric"] == metric) & summary["subgroup"].isin(TAIL_BINS)]
    if s.empty:
        return pd.DataFrame(columns=cols)
    s = s.rename(columns={"subgroup": "bin"})
    s = s.assign(
        _e=[(-1.0 if math.isnan(v) else v) for v in map(eps_value, s["epsilon"])], _b=s["bin"].map(TAIL_BINS.index)
    )
    s = s.sort_values(["dataset", "generator", "_e", "_b"]).drop(columns=["_e", "_b"]).reset_index(drop=True)
    s["label"] = _labels(s, _multi_dataset(s))
    return s[cols]


def fig_tail_bins(bins: pd.DataFrame) -> plt.Figure | None:
    """Retention (y) across real-count bins (x), one line per generator x epsilon."""
    if bins.empty:
        return None
    colors = palette(bins["generator"])
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(_WIDTH * 0.62, 4.0))
    order = [b for b in TAIL_BINS if b in set(bins["bin"])]
    xpos = {b: i for i, b in enumerate(order)}
    eps_order = {
        g: sorted(
            set(bins.loc[bins["generator"] == g, "epsilon"]),
            key=lambda e: -1.0 if math.isnan(eps_value(e)) else eps_value(e),
        )
        for g in bins["generator"].unique()
    }
    for k, (lab, sub) in enumerate(bins.groupby("label", sort=False)):
        g = sub["generator"].iloc[0]
        style = styles[eps_order[g].index(sub["epsilon"].iloc[0]) % len(styles)]
        sub = sub.assign(_x=sub["bin"].map(xpos)).sort_values("_x")
        ax.errorbar(
            sub["_x"] + (k % 7 - 3) * 0.02,
            sub["mean"],
            yerr=_nz(sub["std"]),
            fmt="o",
            ls=style,
            color=colors[g],
            ms=4,
            capsize=2,
            label=lab,
        )
    ax.set_xticks(range(len(order)), [f"seen {b[6:]}×" for b in order])
    ax.set_xlim(-0.5, len(order) - 0.5)
    ax.set_xlabel("how often the rare category occurs in the real training split")
    ax.set_ylabel("share kept in synthetic (↑)")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------- collapse
def collapse_curves(collapse: pd.DataFrame, max_metrics: int = 6) -> pd.DataFrame:
    """Mean and std over seeds of each collapse metric per generation.

    Args:
        collapse: concatenated ``collapse.parquet`` frames (long: ``dataset,
            generator, mode, seed, generation, metric, value``).
        max_metrics: keep the first this many metrics (in order of appearance).
    Returns:
        Columns ``dataset, generator, mode, metric, generation, mean, std, n``.
    """
    cols = ["dataset", "generator", "mode", "metric", "generation", "mean", "std", "n"]
    need = {"generator", "generation", "metric", "value"}
    if collapse is None or collapse.empty or not need <= set(collapse.columns):
        return pd.DataFrame(columns=cols)
    c = collapse.copy()
    for k in ("dataset", "mode"):
        if k not in c.columns:
            c[k] = "—"
    c[["dataset", "mode"]] = c[["dataset", "mode"]].fillna("—").astype(str)
    metrics = list(dict.fromkeys(c["metric"]))[:max_metrics]
    c = c[c["metric"].isin(metrics)]
    out = (
        c.groupby(["dataset", "generator", "mode", "metric", "generation"])["value"]
        .agg(mean="mean", std="std", n="count")
        .reset_index()
    )
    out["_m"] = out["metric"].map(metrics.index)
    return (
        out.sort_values(["_m", "dataset", "generator", "mode", "generation"])
        .drop(columns="_m")[cols]
        .reset_index(drop=True)
    )


def fig_collapse(curves: pd.DataFrame) -> plt.Figure | None:
    """One panel per collapse metric: value against generation, a line per generator x mode."""
    if curves.empty:
        return None
    metrics = list(dict.fromkeys(curves["metric"]))
    ncol = min(3, len(metrics))
    nrow = math.ceil(len(metrics) / ncol)
    modes = sorted(curves["mode"].unique())
    by_mode = curves["generator"].nunique() == 1  # one generator: colour the modes apart
    colors = palette(curves["mode"] if by_mode else curves["generator"])
    styles = dict(zip(modes, ["-", "--", ":", "-."] * 4))
    multi = curves["dataset"].nunique() > 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(_WIDTH, 3.3 * nrow), squeeze=False)
    for i, m in enumerate(metrics):
        ax = axes[i // ncol][i % ncol]
        sub = curves[curves["metric"] == m]
        for (ds, g, mode), s in sub.groupby(["dataset", "generator", "mode"]):
            s = s.sort_values("generation")
            lab = f"{ds}/{g}" if multi else g
            if len(modes) > 1:
                lab += f" ({mode})"
            c = colors[mode if by_mode else g]
            ax.plot(s["generation"], s["mean"], ls=styles[mode], marker="o", ms=3, color=c, label=lab)
            sd = s["std"].fillna(0).to_numpy()
            ax.fill_between(s["generation"], s["mean"] - sd, s["mean"] + sd, color=c, alpha=0.15, lw=0)
        ax.set_xlabel("generation")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_title(short_metric(m), fontsize=9.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="best")
    for j in range(len(metrics), nrow * ncol):
        axes[j // ncol][j % ncol].set_visible(False)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------ cost
def cost_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Fit time and peak memory per generator x epsilon.

    Returns:
        Columns ``dataset, generator, epsilon, label, metric, mean, std, n`` for
        the metrics of :data:`COST_METRICS` the sweep recorded.
    """
    cols = ["dataset", "generator", "epsilon", "label", "metric", "mean", "std", "n"]
    frames = [select(summary, m) for m, _ in COST_METRICS]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=cols)
    c = _sort_cells(pd.concat(frames, ignore_index=True))
    c["label"] = _labels(c, _multi_dataset(c))
    return c[cols]


def fig_cost(cost: pd.DataFrame) -> plt.Figure | None:
    """Horizontal bars of fit time (log scale) and peak memory per generator x epsilon."""
    if cost.empty:
        return None
    present = [(m, t) for m, t in COST_METRICS if m in set(cost["metric"])]
    labels = list(dict.fromkeys(cost["label"]))
    colors = palette(cost["generator"])
    fig, axes = plt.subplots(1, len(present), figsize=(_WIDTH, max(2.6, 0.3 * len(labels) + 1.2)), squeeze=False)
    for ax, (m, title) in zip(axes[0], present):
        sub = cost[cost["metric"] == m].set_index("label").reindex(labels)
        yy = np.arange(len(labels))
        gens = [cost.loc[cost["label"] == lab, "generator"].iloc[0] for lab in labels]
        ax.barh(yy, sub["mean"].fillna(0), xerr=_nz(sub["std"]), color=[colors[g] for g in gens], capsize=2)
        ax.set_yticks(yy, labels, fontsize=7.5)
        ax.invert_yaxis()
        if m == "cost.fit_s" and (sub["mean"] > 0).all() and sub["mean"].max() / sub["mean"].min() > 50:
            ax.set_xscale("log")
        ax.set_xlabel(f"{title} (↓ better)")
        ax.grid(alpha=0.3, axis="x", which="major")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------- rendering
_SVG_HEAD = re.compile(r"^.*?(?=<svg\b)", re.S)
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_META = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def to_svg(fig: plt.Figure, prefix: str) -> str:
    """Render ``fig`` as an inline SVG element for an HTML5 page and close it.

    The XML prolog, DOCTYPE, metadata and namespace declarations are dropped
    (the HTML parser puts ``<svg>`` in the SVG namespace itself), so the markup
    names no URL; element ids are prefixed with ``prefix`` so several figures
    can share one page. Text stays text (``svg.fonttype = none``).

    Returns:
        The ``<svg ...>...</svg>`` markup.
    """
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    s = _META.sub("", _SVG_HEAD.sub("", buf.getvalue(), count=1))
    s = _XMLNS.sub("", s)
    ids = set(re.findall(r'\bid="([^"]+)"', s))
    if ids:
        pat = re.compile(r'(\bid="|#)(' + "|".join(map(re.escape, sorted(ids, key=len, reverse=True))) + r')(?=["\)])')
        s = pat.sub(lambda mo: f"{mo.group(1)}{prefix}-{mo.group(2)}", s)
    s = s.replace("<svg ", '<svg role="img" class="fig" ', 1)
    return s.strip()


def _nz(std: Any) -> Any:
    """Std for error bars: NaN (single seed) -> 0."""
    if isinstance(std, (pd.Series, np.ndarray)):
        return np.nan_to_num(np.asarray(std, float))
    try:
        v = float(std)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(v) else v


def _arrow(direction: str) -> str:
    return "↑" if direction == "maximize" else "↓"
