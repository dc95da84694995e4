"""The markdown report of a sweep (``report.md``): the HTML report's sections as tables.

Same content as ``report.html`` (:mod:`bench.report.html`) without figures:
provenance, the comparison table with the best value per column in bold,
then the data behind each figure (frontier points with the Pareto front,
metrics against epsilon, outliers vs typical, tail retention by count bin,
collapse curves at their last generation, cost) and the failed runs. Sections
without data are listed at the end. No real record appears: the input is
aggregated metrics and selected run-record fields.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report import plots
from bench.report.html import ABSENT_HINTS, HOW_TO_READ, SweepReport, load_sweep, verdict
from bench.results import TABLE_NOTE, atomic_write_text


def md_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured markdown table; floats to ``digits`` decimals, NaN as ``—``, ``|`` escaped."""
    if df.empty:
        return "_none_\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v, digits).replace("|", "\\|").replace("\n", " ") for v in row) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(rep: SweepReport) -> str:
    """The report as markdown text."""
    prov = rep.provenance
    out = [
        f"# tailbench report: {rep.name}\n",
        f"{prov['n_runs']} runs ({', '.join(f'{n} {s}' for s, n in prov['status'].items())}); "
        f"generated {rep.generated_at}. Figures: `report.html` beside this file.\n",
        "## Configuration and provenance\n",
    ]
    kv = []
    for ds, d in prov["datasets"].items():
        sizes = ", ".join(f"{k} {v}" for k, v in d["split_sizes"].items())
        fps = ", ".join(d["fingerprints"]) or "—"
        kv.append(
            (
                f"dataset {ds}",
                f"fingerprint {fps}"
                + (" (differs between runs)" if len(d["fingerprints"]) > 1 else "")
                + (f"; splits {sizes}" if sizes else ""),
            )
        )
    kv += [
        ("generators", ", ".join(prov["generators"]) or "—"),
        ("ε requested", ", ".join(prov["epsilons"]) + " (— = no formal guarantee)"),
        ("seeds", ", ".join(map(str, prov["seeds"])) or "—"),
    ]
    if prov["run_overrides"]:
        kv.append(("overrides (all runs)", " ".join(f"`{k}={','.join(v)}`" for k, v in prov["run_overrides"].items())))
    if prov["sweep_params"]:
        kv.append(("sweeper params (last multirun)", " ".join(f"`{k}={v}`" for k, v in prov["sweep_params"].items())))
    if prov["overrides"]:
        kv.append(("command line", " ".join(f"`{o}`" for o in prov["overrides"])))
    kv.append(("git commit", f"{prov['git']['commit'] or '—'} ({prov['git']['source']})"))
    kv.append(("configs", f"{prov['config_hashes']} distinct config hashes"))
    kv.append(
        (
            "versions",
            " · ".join(
                f"{k} {' / '.join(v)}" + (" (mixed)" if len(v) > 1 else "") for k, v in prov["versions"].items()
            ),
        )
    )
    out.append(md_table(pd.DataFrame(kv, columns=["", "value"])))

    out.append("\n## Comparison table\n")
    out.append(
        TABLE_NOTE + " **Bold** = best of a ranked column per dataset (the control references "
        "identity and noisy_identity are not ranked).\n"
    )
    if rep.rows:
        header = [c.header for c in rep.columns]
        body = [[f"**{c.text}**" if c.best else c.text for c in row] for row in rep.rows]
        out.append(md_table(pd.DataFrame(body, columns=header)))
    else:
        out.append("_no runs_\n")
    if not rep.warnings.empty:
        out.append("\n## Warnings about the data\n")
        out.extend(
            f"- **{r['dataset']} ({r['kind']}):** {r['warning']} ({r['runs']} run(s))\n"
            for r in rep.warnings.to_dict("records")
        )
    if not rep.controls.empty:
        out.append("\n## Controls: does each privacy metric read right?\n")
        out.append(
            "Each privacy metric on identity (must read worst), noisy_identity (strictly between), "
            "independent and faker (at the null level within the tolerance: 4 standard errors from the "
            "run's sample sizes); mean over seeds, larger = more leakage.\n"
        )
        from attacks.controls import CONTROL_GENERATORS

        c = rep.controls.copy()
        c["null ± tolerance"] = [f"{_fmt(a)} ± {_fmt(b)}" for a, b in zip(c["null"], c["tolerance"])]
        c["verdict"] = [verdict(r) for r in c.to_dict("records")]
        cols = ["dataset", "metric", "subgroup", *CONTROL_GENERATORS, "null ± tolerance", "verdict"]
        out.append(md_table(c[cols]))

    absent = []
    pts, xa, ya = plots.frontier_points(rep.summary)
    if pts.empty:
        absent.append(ABSENT_HINTS["frontier"])
    else:
        out.append("\n## Privacy–fidelity frontier\n")
        out.append(
            f"x = `{xa.metric}` ({xa.direction}), y = `{ya.metric}` ({ya.direction}); "
            "front = Pareto-optimal (no other cell is both more private and more faithful).\n"
        )
        t = pts[["dataset", "label", "x", "y", "on_front"]].rename(
            columns={
                "label": "cell",
                "x": plots.short_metric(xa.metric),
                "y": plots.short_metric(ya.metric),
                "on_front": "front",
            }
        )
        t["front"] = t["front"].map(lambda b: "★" if b else "")
        out.append(md_table(t))
        out.append(f"\n_How to read this:_ {HOW_TO_READ['frontier']}\n")

    series = plots.epsilon_series(rep.summary)
    if series.empty:
        absent.append(ABSENT_HINTS["epsilon"])
    else:
        out.append("\n## Fidelity, utility and privacy against ε\n")
        if not rep.dp.empty:
            out.append("Privacy accounting (what each ε covers):\n")
            dp = rep.dp.copy()
            dp["full_scope"] = dp["full_scope"].map(lambda b: "yes" if b else "**no**: ε covers only the listed parts")
            out.append(md_table(dp))
        if not rep.audit_flags.empty:
            out.append(
                f"\n**Audit:** the empirical ε lower bound exceeds the claimed ε in {len(rep.audit_flags)} run(s):\n"
            )
            out.append(md_table(rep.audit_flags))
        wide = series.assign(
            cell=[
                plots.config_label(g, e) if r == "dp" else f"{g} (ref)"
                for g, e, r in zip(series["generator"], series["epsilon"], series["role"])
            ]
        )
        wide["value"] = [_pm(m, s) for m, s in zip(wide["mean"], wide["std"])]
        wide = wide.pivot_table(
            index=["dataset", "cell"], columns="metric", values="value", aggfunc="first", sort=False
        ).reset_index()
        if {"privacy.mia_advantage", "privacy.shadow_mia_advantage"} & set(wide.columns):
            wide["DP advantage ceiling"] = [
                _fmt(float(plots.advantage_ceiling(e))) if math.isfinite(e) else "—"
                for e in (plots.eps_value(c.split("ε=")[-1]) if "ε=" in c else math.nan for c in wide["cell"])
            ]
        wide.columns.name = None
        out.append(md_table(wide))
        out.append(f"\n_How to read this:_ {HOW_TO_READ['epsilon']}\n")

    pairs = plots.subgroup_pairs(rep.summary)
    if pairs.empty:
        absent.append(ABSENT_HINTS["subgroups"])
    else:
        out.append("\n## Outliers vs typical records\n")
        t = pairs[["metric", "label", "baseline_kind", "baseline", "outliers", "gap"]].rename(
            columns={"label": "cell", "baseline_kind": "baseline subgroup", "gap": "outliers − baseline"}
        )
        out.append(md_table(t))
        out.append(f"\n_How to read this:_ {HOW_TO_READ['subgroups']}\n")

    bins = plots.tail_bins(rep.summary)
    if bins.empty:
        absent.append(ABSENT_HINTS["tails"])
    else:
        out.append("\n## Rare-category retention by count bin\n")
        w = bins.assign(v=[_pm(m, s) for m, s in zip(bins["mean"], bins["std"])]).pivot_table(
            index="label", columns="bin", values="v", aggfunc="first", sort=False
        )
        w = w[[b for b in plots.TAIL_BINS if b in w.columns]].reset_index().rename(columns={"label": "cell"})
        w.columns.name = None
        out.append(md_table(w))
        out.append(f"\n_How to read this:_ {HOW_TO_READ['tails']}\n")

    curves = plots.collapse_curves(rep.collapse)
    if curves.empty:
        absent.append(ABSENT_HINTS["collapse"])
    else:
        out.append("\n## Model collapse across generations\n")
        first = curves.sort_values("generation").groupby(["dataset", "generator", "mode", "metric"], sort=False)
        t = first.agg(
            first_generation=("generation", "first"),
            first=("mean", "first"),
            last_generation=("generation", "last"),
            last=("mean", "last"),
        ).reset_index()
        out.append(md_table(t))
        out.append(f"\n_How to read this:_ {HOW_TO_READ['collapse']}\n")

    cost = plots.cost_table(rep.summary)
    if cost.empty:
        absent.append(ABSENT_HINTS["cost"])
    else:
        out.append("\n## Cost\n")
        w = (
            cost.assign(v=[_pm(m, s, 2) for m, s in zip(cost["mean"], cost["std"])])
            .pivot_table(index="label", columns="metric", values="v", aggfunc="first", sort=False)
            .reset_index()
        )
        w.columns.name = None
        out.append(md_table(w.rename(columns={"label": "cell"})))
        out.append(f"\n_How to read this:_ {HOW_TO_READ['cost']}\n")

    if not rep.risks.empty or not rep.vulnerable.empty:
        out.append("\n## Privacy details\n")
    if not rep.risks.empty:
        out.append(
            "Anonymeter risks (0 = attack no better than the control; 95% interval; baseline = naive "
            "attacker's success rate; below_baseline = share of seeds where anonymeter warned the attack "
            "did not beat it, so the risk is not meaningful):\n"
        )
        out.append(md_table(rep.risks))
    if not rep.vulnerable.empty:
        out.append("\nMost exposed training records, by row index only († = outlier):\n")
        out.append(md_table(rep.vulnerable))
    out.append("\n## Failed runs\n")
    out.append(md_table(rep.failed) if not rep.failed.empty else "None: every run finished.\n")
    if not rep.metric_errors.empty:
        out.append("\nMetric families that failed inside finished runs:\n")
        out.append(md_table(rep.metric_errors))
    if absent:
        out.append("\n## Not in this sweep\n")
        out.append("\n".join(f"- {a}" for a in absent) + "\n")
    out.append(
        f"\nRegenerate with `tailbench-report {rep.sweep_dir}`. Built from aggregated metrics and run "
        "records only; contains no real record.\n"
    )
    return "\n".join(out)


def write_markdown(sweep_dir: Path, rep: SweepReport | None = None) -> Path:
    """Write ``report.md`` into ``sweep_dir`` (atomically) and return its path."""
    rep = load_sweep(sweep_dir) if rep is None else rep
    path = Path(sweep_dir) / "report.md"
    atomic_write_text(path, render_markdown(rep))
    return path


def _pm(mean: float, std: float, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    s = f"{mean:.{digits}f}"
    return s if std is None or math.isnan(std) else f"{s} ± {std:.{digits}f}"


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.{digits}f}"
    return str(v)
