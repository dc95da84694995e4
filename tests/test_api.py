"""Scoring tables tailbench did not generate: bench.api.evaluate and tailbench-score."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from bench import CONF_DIR
from bench.api import as_schema, evaluate
from bench.run.cell import metric_settings, run_cell

ROOT = Path(__file__).resolve().parent.parent
KEYS = ["metric", "subgroup"]


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.fixture(scope="session")
def sdv_table(adult_small):
    """A Gaussian-copula table made with SDV directly, outside tailbench, from Adult's training split."""
    from sdv.single_table import GaussianCopulaSynthesizer

    s = adult_small.splits()
    md = adult_small.schema.to_sdv_metadata()
    synth = GaussianCopulaSynthesizer(md)
    synth.fit({adult_small.name: s.train.reset_index(drop=True)})  # SDV 2.0 takes and returns dicts
    out = synth.sample(len(s.train))
    return s, out[adult_small.name] if isinstance(out, dict) else out


def test_evaluate_equals_sdmetrics_quality_report(adult_small, sdv_table):
    from tests.sdmetrics_reference import sdmetrics_quality_report

    s, syn = sdv_table
    metrics, record = evaluate(
        train=s.train, synthetic=syn, schema=adult_small.schema, settings={"fidelity": {"n_bootstrap": 0}}
    )
    got = metrics.set_index(KEYS)["value"]
    rep = sdmetrics_quality_report(s.train, syn, adult_small.schema)
    props = rep.get_properties().set_index("Property")["Score"]
    assert got["fidelity.quality_score", "all"] == pytest.approx(rep.get_score(), abs=1e-9)
    assert got["fidelity.column_shapes", "all"] == pytest.approx(props["Column Shapes"], abs=1e-9)
    assert got["fidelity.pair_trends", "all"] == pytest.approx(props["Column Pair Trends"], abs=1e-9)
    assert set(record["timings"]["family_s"]) == {"fidelity"}


def test_evaluate_skips_what_needs_a_holdout_and_says_why(adult_small, sdv_table):
    s, syn = sdv_table
    metrics, record = evaluate(
        train=s.train,
        synthetic=syn,
        schema=adult_small.schema,
        settings={"fidelity": {"n_bootstrap": 0}, "utility": {}, "attacks": {}},
    )
    assert set(record["skipped"]) == {"utility", "attacks"}
    assert "holdout" in record["skipped"]["utility"] and "reference" in record["skipped"]["attacks"]
    assert not metrics["metric"].str.startswith(("utility.", "privacy.")).any()
    with_holdout, rec2 = evaluate(
        train=s.train,
        holdout=s.holdout,
        synthetic=syn,
        schema=adult_small.schema,
        settings={"utility": {"models": ["hgb"]}},
    )
    assert "skipped" not in rec2 and (with_holdout["metric"] == "utility.tstr_auc").any()


def test_a_sweep_cell_and_evaluate_give_the_same_metrics_on_the_same_tables(tmp_path, adult_dir):
    """The cell's synthetic table (from the cache) scored through the API: every value equal."""
    over = [
        f"dataset.data_dir={adult_dir}",
        "dataset=adult",
        "dataset.max_rows=3000",
        "generator=gaussian_copula",
        f"cache.dir={tmp_path / 'cache'}",
        "profile=fast",
        "attacks=default",
        "attacks.anonymeter.singling_out.n_attacks=50",
        "attacks.anonymeter.linkability.n_attacks=50",
        "attacks.anonymeter.inference.n_attacks=50",
    ]
    cfg = _cfg(*over)
    rec = run_cell(cfg, tmp_path / "cell")
    assert rec["status"] == "ok", rec["error"]
    cell = pd.read_parquet(tmp_path / "cell" / "metrics.parquet")
    table = pd.read_parquet(next((tmp_path / "cache" / "synthetic").glob("*.parquet")))
    from omegaconf import OmegaConf

    from bench.data.loaders import load_dataset

    ds = load_dataset(OmegaConf.to_container(cfg.dataset, resolve=True))
    sp = ds.splits()
    api, _ = evaluate(
        train=sp.train,
        holdout=sp.holdout,
        reference=sp.reference,
        synthetic=table,
        schema=ds.schema,
        settings=metric_settings(cfg),
        seed=int(cfg.seed),
        dataset=ds,
    )
    # every value, anonymeter's random-guess baselines included (seeded in attacks/anonymeter.py); costs are the cell's
    assert cell["metric"].str.endswith("_baseline").any()
    a = cell[~cell["family"].eq("cost")].set_index(KEYS)["value"].sort_index()
    b = api.set_index(KEYS)["value"].sort_index()
    assert a.index.equals(b.index)
    diff = ~np.isclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-12, equal_nan=True)
    assert not diff.any(), pd.DataFrame({"cell": a[diff], "api": b[diff]})


def test_schema_may_be_sdv_metadata(fair):
    md = fair.schema.to_sdv_metadata()
    sch = as_schema(md, name="fair")
    assert sch.columns == {c: ("categorical" if k == "boolean" else k) for c, k in fair.schema.columns.items()}


def test_tailbench_score_on_csv_files_from_another_tool(tmp_path, fair, capsys):
    """Files written with pandas (not by tailbench), scored from the command line into a report."""
    import yaml

    s = fair.splits()
    train, holdout = s.train.sample(1000, random_state=0), s.holdout.sample(500, random_state=0)  # small files
    rng = np.random.default_rng(0)
    other = train.sample(len(train), replace=True, random_state=1).reset_index(drop=True)
    other["age"] = other["age"] + rng.normal(0, 1, len(other))  # another tool's table
    train.to_csv(tmp_path / "train.csv", index=False)
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    other.to_csv(tmp_path / "synthetic.csv", index=False)
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(fair.schema.to_dict()))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.score",
            "--real",
            str(tmp_path / "train.csv"),
            "--synthetic",
            str(tmp_path / "synthetic.csv"),
            "--holdout",
            str(tmp_path / "holdout.csv"),
            "--schema",
            str(tmp_path / "schema.yaml"),
            "--out",
            str(out),
            "--no-attacks",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "report.html").exists() and (out / "report.md").exists()
    rec = json.loads((out / "run.json").read_text())
    assert rec["status"] == "ok" and rec["generator"] == "external"
    m = pd.read_parquet(out / "metrics.parquet").set_index(KEYS)["value"]
    assert 0.5 < m["fidelity.quality_score", "all"] < 1 and ("utility.tstr_auc", "all") in m.index
    # the same entry point in this process (the command line above is its console script):
    # no holdout and no reference, so utility and the attacks say why they did not run
    from bench.score import main as score_main

    files = ["--synthetic", str(tmp_path / "synthetic.csv"), "--schema", str(tmp_path / "schema.yaml")]
    assert score_main(["--real", str(tmp_path / "train.csv"), *files, "--out", str(tmp_path / "out2")]) == 0
    said = capsys.readouterr()
    assert "skipped utility: needs real holdout rows" in said.out and "skipped attacks" in said.out
    assert score_main(["--real", str(tmp_path / "nope.csv"), *files]) == 2
    said = capsys.readouterr()
    assert "DataNotFoundError" in said.err and "nope.csv" in said.err
