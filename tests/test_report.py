"""The generated report: report.html (self-contained) and report.md for a sweep.

The structure test renders a small REAL sweep (the Hydra app on ``fair`` with
three generators, plus one failing run) and checks its tables, figures, the
absence of external URLs and of any real training row. Sections whose
producers (DP generators, attacks, tail bins, collapse) may not be in the sweep
are checked on a fabricated sweep directory written with the real
:func:`bench.results.write_run`.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from bench.cli import CONF_DIR
from bench.data.loaders import load_fair
from bench.report import plots
from bench.report.cli import main as report_main
from bench.report.html import load_sweep, render_html
from bench.report.markdown import render_markdown
from bench.results import metric, write_run
from bench.run.cell import run_cell
from tests.conftest import dataset_cfg

ROOT = Path(__file__).resolve().parent.parent
MAX_ROWS = 2000
GENERATORS = ["identity", "independent", "gaussian_copula"]


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def real_sweep(tmp_path_factory) -> Path:
    """A real multirun of the Hydra app (fair, 2,000 rows, 3 generators) plus one failed run.

    The multirun-end callback writes the first report; the failing job is
    added afterwards and the report rebuilt with ``tailbench-report``.
    """
    sweep = tmp_path_factory.mktemp("sweep") / "real"
    cmd = [
        sys.executable,
        "-m",
        "bench.cli",
        "-m",
        f"generator={','.join(GENERATORS)}",
        f"dataset.max_rows={MAX_ROWS}",
        "name=report_test",
        f"hydra.sweep.dir={sweep}",
        "attacks=default",
        *(f"++attacks.anonymeter.{a}.n_attacks=50" for a in ("singling_out", "linkability", "inference")),
        "hydra/job_logging=disabled",
        "hydra/hydra_logging=disabled",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (sweep / "report.html").exists() and (sweep / "report.md").exists(), "callback wrote no report"
    rec = run_cell(
        _cfg(
            "generator=identity",
            "generator._target_=bench.generators.nope.Nope",
            "seed=1",
            f"dataset.max_rows={MAX_ROWS}",
        ),
        sweep / "9",
    )
    assert rec["status"] == "failed"
    assert report_main([str(sweep), "--quiet"]) == 0
    return sweep


@pytest.fixture(scope="session")
def train_rows() -> pd.DataFrame:
    """The real training split the sweep's generators saw (fair capped at MAX_ROWS)."""
    return load_fair(**dataset_cfg("fair", max_rows=MAX_ROWS)).splits().train


# ------------------------------------------------------- HTML parsing helpers
class _Page(HTMLParser):
    """Collects table rows, svg texts, text lines and every tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[list[str]] = []
        self.tables: dict[str, list[list[tuple[str, dict]]]] = {}
        self.svg_texts: list[list[str]] = []
        self.lines: list[str] = []
        self._row = None
        self._cell = None
        self._table = None
        self._svg = 0
        self._skip = 0
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "svg":
            self._svg += 1
            self.svg_texts.append([])
        elif tag == "table":
            self._table = a.get("id", f"t{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ([], a)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "svg":
            self._svg -= 1
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(("".join(self._cell[0]).strip(), self._cell[1]))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append([c for c, _ in self._row])
            if self._table is not None:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag in ("p", "li", "div", "h1", "h2", "h3", "pre", "summary"):
            self._flush()

    def handle_data(self, data):
        if self._skip:
            return
        if self._svg:
            self.svg_texts[-1].append(data)
            return
        if self._cell is not None:
            self._cell[0].append(data)
        else:
            self._text.append(data)

    def _flush(self):
        t = "".join(self._text)
        self.lines += [ln for ln in t.splitlines() if ln.strip()]
        self._text = []


def parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    p._flush()
    return p


def md_rows(md: str) -> list[list[str]]:
    return [
        [c.strip() for c in re.split(r"(?<!\\)\|", ln.strip())[1:-1]]
        for ln in md.splitlines()
        if ln.strip().startswith("|")
    ]


# ----------------------------------------------------- real-record detector
_TOKEN = re.compile(r"[^\s,;|:()\[\]=*★±/]+")


def _units(html: str | None = None, md: str | None = None) -> list[list[str]]:
    """Token lists, one per candidate 'row': table rows, text lines, each figure's text."""
    units: list[list[str]] = []
    if html is not None:
        page = parse(html)
        units += [_TOKEN.findall(" ".join(r)) for r in page.rows]
        units += [_TOKEN.findall(ln) for ln in page.lines]
        units += [_TOKEN.findall(" ".join(t)) for t in page.svg_texts]
        # raw source lines too, so a record hidden in an attribute or comment is caught
        units += [_TOKEN.findall(re.sub(r"<[^>]+>", " ", ln)) for ln in html.splitlines()]
    if md is not None:
        units += [_TOKEN.findall(" ".join(r)) for r in md_rows(md)]
        units += [_TOKEN.findall(ln) for ln in md.splitlines()]
    return [u for u in units if u]


def leaked_rows(frame: pd.DataFrame, html: str | None = None, md: str | None = None) -> list:
    """Row ids of ``frame`` whose every value appears among the tokens of one report row.

    Categorical values must appear verbatim; a numeric value matches a number
    token that rounds to it at the token's precision ("27" matches 27.0,
    "3.23" matches 3.230769). Loose on purpose: it errs toward flagging.
    """
    found: set = set()
    num_cols = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    cat_cols = [c for c in frame.columns if c not in num_cols]
    for toks in _units(html, md):
        strs = set(toks)
        mask = np.ones(len(frame), bool)
        for c in cat_cols:
            mask &= frame[c].astype(str).isin(strs).to_numpy()
            if not mask.any():
                break
        if not mask.any():
            continue
        nums, tols = [], []
        for t in toks:
            try:
                v = float(t)
            except ValueError:
                continue
            if math.isfinite(v):
                dec = len(t.split(".")[1]) if "." in t and "e" not in t.lower() else 0
                nums.append(v)
                tols.append(0.5 * 10.0**-dec + 1e-9)
        if not nums:
            continue
        nums_a, tols_a = np.array(nums), np.array(tols)
        for c in num_cols:
            x = frame[c].to_numpy(float)[:, None]
            mask &= (np.abs(x - nums_a[None, :]) <= tols_a[None, :]).any(axis=1)
            if not mask.any():
                break
        found |= set(frame.index[mask])
    return sorted(found)


# ----------------------------------------------------------------- the tests
def test_real_sweep_report_structure(real_sweep):
    html = (real_sweep / "report.html").read_text()
    md = (real_sweep / "report.md").read_text()
    page = parse(html)
    # comparison table: one row per generator, metric headers carry their direction
    cmp = page.tables["cmp"]
    header = [c for c, _ in cmp[0]]
    body = cmp[1:]
    assert header[:4] == ["dataset", "generator", "epsilon", "runs"]
    assert sorted(r[1][0] for r in body) == sorted(GENERATORS)
    metric_cols = [i for i, h in enumerate(header) if h.endswith(("↑", "↓"))]
    assert {"quality ↑", "TSTR AUC ↑", "fit s ↓", "peak MB ↓"} <= {header[i] for i in metric_cols}
    assert dict((r[1][0], r[3][0]) for r in body)["identity"] == "1/2"  # the failed seed counts
    # best per column: the max (↑) or min (↓) over non-reference generators of the summary means
    summ = pd.read_parquet(real_sweep / "summary.parquet")
    by_label = {h: i for i, h in enumerate(header)}
    for label, key in [
        ("quality ↑", "fidelity.quality_score"),
        ("TSTR AUC ↑", "utility.tstr_auc"),
        ("fit s ↓", "cost.fit_s"),
    ]:
        s = summ[
            (summ["metric"] == key) & (summ["subgroup"] == "all") & ~summ["generator"].isin(plots.REFERENCE_GENERATORS)
        ].set_index("generator")["mean"]
        want = s.idxmax() if label.endswith("↑") else s.idxmin()
        marked = [r[1][0] for r in body if "best" in (r[by_label[label]][1].get("class") or "")]
        assert marked == [want], (label, marked, s.to_dict())
    # figures: inline SVG, each with a how-to-read line
    n_svg = sum(1 for t, _ in page.tags if t == "svg")
    assert n_svg >= 1 and html.count("How to read this:") == n_svg
    assert re.search(r'<h2 id="cost">', html) and "peak memory (MB)" in html
    # the sweep ran the default attacks: their metrics exist for every generator, with intervals,
    # and the privacy sections render (a sweep whose attacks silently vanished fails here)
    # (inference on fair's affairs at 50 attacks has a null band wider than 0.5: blanked as unresolvable)
    for key, label in [
        ("privacy.mia_auc", "MIA AUC ↓"),
        ("privacy.dcr_member_share", "DCR member share ↓"),
        ("privacy.linkability_risk", "linkability ↓"),
        ("privacy.singling_out_risk", "singling out ↓"),
    ]:
        got = summ[(summ["metric"] == key) & (summ["subgroup"] == "all")]
        assert set(got["generator"]) == set(GENERATORS) and got["mean"].notna().all(), key
        assert label in header and all("[" in r[by_label[label]][0] for r in body), label  # value [interval]
    assert '<h2 id="frontier">' in html and "points on the front" in html
    sec = html[html.index('<h2 id="frontier">') :]
    assert sec.index("<svg") < sec.index("How to read this:")
    assert '<h2 id="privacy">' in html and "Anonymeter risks" in html
    assert '<h2 id="epsilon">' not in html and "no generator ran with a finite ε" in html
    # provenance: fingerprint, seeds, versions, sweep parameters
    rj = pd.read_json(real_sweep / "0" / "run.json", typ="series")
    assert rj["dataset_fingerprint"] in html and "sdmetrics 0.32.0" in html
    assert f"generator={','.join(GENERATORS)}" in html
    # failed run with its error, in both reports
    assert "UnknownGeneratorError" in html and "UnknownGeneratorError" in md
    # markdown: the same comparison table, best in bold
    rows = md_rows(md)
    assert any(r[:2] == ["fair", "gaussian_copula"] for r in rows)
    assert re.search(r"\| \*\*\d\.\d{3}", md)


def test_report_fetches_nothing(real_sweep):
    html = (real_sweep / "report.html").read_text()
    page = parse(html)
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "img", "object", "embed"), tag
        for k in ("src", "href", "xlink:href", "data", "action", "srcset", "poster"):
            v = attrs.get(k)
            if v is not None:
                assert v.startswith("#"), (tag, k, v)
    assert not re.search(r"url\((?!#)", html) and "@import" not in html
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I)


def test_no_real_training_row_appears(real_sweep, train_rows):
    html = (real_sweep / "report.html").read_text()
    md = (real_sweep / "report.md").read_text()
    assert leaked_rows(train_rows, html=html, md=md) == []
    # the detector catches a planted record, as a table row or a CSV line
    victim = train_rows.iloc[7]
    cells = [str(v) for v in victim.tolist()]
    planted_html = html.replace("</tbody>", "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr></tbody>", 1)
    assert victim.name in leaked_rows(train_rows, html=planted_html)
    planted_md = md + "\n| " + " | ".join(cells) + " |\n"
    assert victim.name in leaked_rows(train_rows, md=planted_md)
    rounded = ",".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in victim.tolist())
    assert victim.name in leaked_rows(train_rows, md=md + "\n" + rounded + "\n")


def _write(d: Path, rec: dict, rows: list[dict]) -> None:
    base = {
        "config_hash": f"h{rec['generator']}{rec['epsilon']}",
        "versions": {"sdv": "2.0.0"},
        "dataset_fingerprint": "abc123",
        "split_sizes": {"train": 60, "holdout": 20, "reference": 20},
        "status": "ok",
        "error": None,
        "timings": {"fit_s": 1.0, "total_s": 2.0},
        "dataset": "fair",
    }
    write_run(d, {**base, **rec}, rows)


@pytest.fixture(scope="session")
def fabricated_sweep(tmp_path_factory) -> Path:
    """A sweep with every section's data: DP generators over ε, attacks with subgroups, tail bins, collapse.

    Values are synthetic (a seeded RNG and monotone trends in ε); only the
    report's structure is checked on it.
    """
    sweep = tmp_path_factory.mktemp("fab")
    rng = np.random.default_rng(0)
    job = 0
    cells = [
        ("identity", None),
        ("gaussian_copula", None),
        ("dp_ctgan", 0.5),
        ("dp_ctgan", 2.0),
        ("dp_ctgan", 8.0),
        ("dp_tvae", 1.0),
        ("dp_tvae", 4.0),
    ]
    for gen, eps in cells:
        for seed in (0, 1):
            strength = 1.0 if eps is None else 1 - math.exp(-eps / 3)
            if gen == "identity":
                strength = 1.2
            rows = [
                metric("fidelity", "fidelity.quality_score", 0.5 + 0.4 * strength + rng.normal(0, 0.01), "maximize"),
                metric("fidelity", "fidelity.column_shapes", 0.6 + 0.3 * strength, "maximize"),
                metric("utility", "utility.tstr_auc", 0.55 + 0.3 * strength + rng.normal(0, 0.01), "maximize"),
                metric("privacy", "privacy.mia_auc", 0.5 + 0.1 * strength, "minimize"),
                metric("privacy", "privacy.mia_auc", 0.5 + 0.05 * strength, "minimize", subgroup="typical"),
                metric("privacy", "privacy.mia_auc", 0.5 + 0.3 * strength, "minimize", subgroup="outliers"),
                metric("privacy", "privacy.mia_advantage", 0.15 * strength, "minimize"),
                metric("privacy", "privacy.singling_out_risk", 0.02 * strength, "minimize", ci_low=0.0, ci_high=0.05),
                metric("tails", "tails.rare_category_retention", 0.5 * strength, "maximize"),
                metric("cost", "cost.fit_s", 5 + 10 * (eps or 0), "minimize"),
                metric("cost", "cost.peak_mem_mb", 400 + rng.normal(0, 5), "minimize"),
            ]
            for i, b in enumerate(plots.TAIL_BINS):
                rows.append(
                    metric(
                        "tails", "tails.rare_category_retention", min(1, strength * (i + 1) / 4), "maximize", subgroup=b
                    )
                )
            rec = {
                "run_id": f"r{job}",
                "generator": gen,
                "epsilon": eps,
                "seed": seed,
                "attacks": {
                    "membership": {
                        "vulnerable_records": [
                            {"row": 4000 + 10 * job + k, "subgroup": "outliers" if k == 0 else "typical", "rank": k + 1}
                            for k in range(3)
                        ]
                    }
                },
            }
            if eps is not None:
                rows.append(metric("privacy", "privacy.epsilon_lower_bound", eps * 0.3, "minimize"))
                rec.update(
                    epsilon_spent=eps,
                    delta=1e-5,
                    accountant="rdp",
                    dp_scope=["discriminator"] if gen == "dp_ctgan" else ["encoder", "decoder"],
                    dp_full_scope=gen != "dp_ctgan",
                    dp_notes=["transformer fit on real data"] if gen == "dp_ctgan" else [],
                    audit_flagged=bool(gen == "dp_ctgan" and eps == 0.5),
                )
            _write(sweep / str(job), rec, rows)
            job += 1
    _write(
        sweep / str(job),
        {
            "run_id": "rf",
            "generator": "dp_tvae",
            "epsilon": 1.0,
            "seed": 2,
            "status": "failed",
            "error": "GeneratorOutputError: planted",
        },
        [],
    )
    coll = pd.DataFrame(
        [
            {
                "dataset": "fair",
                "generator": g,
                "mode": m,
                "seed": s,
                "generation": k,
                "metric": met,
                "value": v * (0.9**k) + rng.normal(0, 0.01),
            }
            for g in ("gaussian_copula", "tvae")
            for m in ("replace", "accumulate")
            for s in (0, 1)
            for k in range(5)
            for met, v in (("tails.rare_category_retention", 0.8), ("fidelity.column_shapes", 0.9))
        ]
    )
    (sweep / "c0").mkdir()
    coll.to_parquet(sweep / "c0" / "collapse.parquet")
    assert report_main([str(sweep), "--quiet"]) == 0
    return sweep


def test_fabricated_sweep_renders_every_section(fabricated_sweep):
    html = (fabricated_sweep / "report.html").read_text()
    md = (fabricated_sweep / "report.md").read_text()
    page = parse(html)
    for sec in ("frontier", "epsilon", "subgroups", "tails", "collapse", "cost", "failures"):
        assert f'<h2 id="{sec}">' in html, sec
    assert sum(1 for t, _ in page.tags if t == "svg") == 6
    assert "Not in this sweep" not in html
    # DP: advantage ceiling and audit diagonal drawn; accounting says what ε covers
    assert "DP ceiling (e^ε−1)/(e^ε+1)" in html and "claimed ε" in html
    assert "no: ε covers only the listed parts" in html and "transformer fit on real data" in html
    assert "Audit:" in html and "dp_ctgan ε=0.5 seed 0" in html
    # frontier: Pareto front drawn and counted
    pts, xa, _ = plots.frontier_points(load_sweep(fabricated_sweep).summary)
    assert xa.metric == "privacy.mia_auc" and f"{int(pts['on_front'].sum())} of {len(pts)} points" in html
    # tails: count bins on the axis; collapse: generations
    assert "seen 1×" in html and re.search(r"seen (&gt;|>)20×", html)
    assert "generation" in html
    # markdown mirrors the sections
    for title in (
        "Privacy–fidelity frontier",
        "against ε",
        "Outliers vs typical",
        "count bin",
        "Model collapse",
        "Cost",
        "Failed runs",
    ):
        assert title in md, title
    assert "GeneratorOutputError: planted" in md
    # privacy details: anonymeter risk with its interval; exposed records by row index only
    assert "Anonymeter risks" in html and "0.000 – 0.050" in html
    assert "4000†, 4010†, 4001, 4011" in html and "4000†, 4010†, 4001, 4011" in md
    assert "DP advantage ceiling" in md
    # the comparison table has an eps-spent column and privacy columns with ↓
    header = [c for c, _ in page.tables["cmp"][0]]
    assert "eps spent" in header and "MIA AUC ↓" in header


def test_empty_sweep_renders_without_runs(tmp_path):
    rep = load_sweep(tmp_path)
    assert "No runs." in render_html(rep) and "_no runs_" in render_markdown(rep)


def test_pareto_mask_follows_directions():
    x = np.array([0.5, 0.6, 0.55, 0.7, np.nan, 0.5])
    y = np.array([0.9, 0.95, 0.8, 0.9, 1.0, 0.85])
    assert plots.pareto_mask(x, y, "minimize", "maximize").tolist() == [True, True, False, False, False, False]
    assert plots.pareto_mask(x, y, "maximize", "maximize").tolist() == [False, True, False, True, False, False]
    # brute force on random points: a front point is dominated by no one, a non-front point by someone
    rng = np.random.default_rng(3)
    a, b = rng.random(40), rng.random(40)
    m = plots.pareto_mask(a, b, "minimize", "maximize")
    dominated = [
        any((a[j] <= a[i]) and (b[j] >= b[i]) and (a[j] < a[i] or b[j] > b[i]) for j in range(40)) for i in range(40)
    ]
    assert m.tolist() == [not d for d in dominated] and m.any()


def test_advantage_ceiling_is_tanh_half_epsilon():
    eps = np.array([0.0, 0.1, 1.0, 4.0, 50.0])
    np.testing.assert_allclose(plots.advantage_ceiling(eps), np.tanh(eps / 2), rtol=1e-12, atol=1e-15)
    # (ε, δ): TPR ≤ e^ε FPR + δ and 1 − FPR ≤ e^ε (1 − TPR) + δ, maximized over a fine FPR grid
    e, d = 1.0, 0.01
    fpr = np.linspace(0, 1, 200001)
    tpr = np.minimum.reduce([np.exp(e) * fpr + d, 1 - (1 - fpr - d) / np.exp(e), np.ones_like(fpr)])
    assert plots.advantage_ceiling(e, d) == pytest.approx((tpr - fpr).max(), abs=1e-4)


def test_svg_figures_are_inline_and_ids_do_not_collide():
    import matplotlib.pyplot as plt

    svgs = []
    for k in range(2):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, k])
        svgs.append(plots.to_svg(fig, f"f{k}"))
    ids = [set(re.findall(r'\bid="([^"]+)"', s)) for s in svgs]
    assert ids[0] and not ids[0] & ids[1]
    for s in svgs:
        assert s.startswith("<svg ") and "http" not in s and "<?xml" not in s
        refs = set(re.findall(r'(?:href="|url\()#([^")]+)', s))
        assert refs <= set(re.findall(r'\bid="([^"]+)"', s))


def test_screenshot_in_headless_chromium(real_sweep, tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import screenshot_report
    finally:
        sys.path.pop(0)
    if screenshot_report.find_chromium() is None:
        pytest.skip("no chromium binary (Debian: apt-get install chromium)")
    png = screenshot_report.screenshot(real_sweep / "report.html", tmp_path / "r.png", 1200, 1600)
    from PIL import Image

    img = Image.open(png).convert("RGB")
    assert img.size == (1200, 1600)
    # something was painted: many colours (text, table shading, plot bars), not a blank page
    assert len(img.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20


def test_runs_differing_only_in_a_swept_parameter_are_two_rows(tmp_path):
    """``generator.epochs=5,50`` makes two configurations: two table rows and two plot labels, not one mean."""
    from bench.results import aggregate, fold_parameters, sweep_tables

    for job, (epochs, seed, score) in enumerate([(5, 0, 0.60), (5, 1, 0.62), (50, 0, 0.80), (50, 1, 0.82)]):
        ov = ["generator=ctgan", f"seed={seed}", f"generator.epochs={epochs}", "paths.output_dir=/x"]
        _write(
            tmp_path / str(job),
            {"run_id": f"r{job}", "generator": "ctgan", "epsilon": None, "seed": seed, "overrides": ov},
            [metric("fidelity", "fidelity.quality_score", score, "maximize")],
        )
    table = aggregate(tmp_path, quiet=True)
    assert len(table) == 2 and list(table["generator.epochs"]) == ["5", "50"]
    assert list(table["runs"]) == ["2/2", "2/2"]
    assert [c for c in table.columns if c.startswith("quality")] and "paths.output_dir" not in table.columns
    quality = table[[c for c in table.columns if c.startswith("quality")][0]]
    assert quality.str.startswith("0.61").iloc[0] and quality.str.startswith("0.81").iloc[1]
    assert "`generator.epochs`" in (tmp_path / "comparison.md").read_text()
    folded = fold_parameters(sweep_tables(tmp_path).summary)
    assert set(folded["generator"]) == {"ctgan (generator.epochs=5)", "ctgan (generator.epochs=50)"}
    assert set(load_sweep(tmp_path).summary["generator"]) == set(folded["generator"])  # what the plots label
    assert report_main([str(tmp_path), "--quiet"]) == 0
    header = [c for c, _ in parse((tmp_path / "report.html").read_text()).tables["cmp"][0]]
    assert "generator.epochs" in header
