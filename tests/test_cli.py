"""The Hydra app end to end: configs compose, cells write records, sweeps aggregate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from bench.cli import CONF_DIR
from bench.results import aggregate
from bench.run.cell import run_cell

ROOT = Path(__file__).resolve().parent.parent


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("group", ["dataset", "generator", "evaluation", "attacks"])
def test_every_config_in_every_group_composes_to_its_own_values(group):
    """Choosing a config puts its values (not another config's) under the group's key (experiments: test_configs.py)."""
    from omegaconf import OmegaConf

    for path in sorted((Path(CONF_DIR) / group).glob("*.yaml")):
        own = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        own.pop("defaults", None)
        got = OmegaConf.to_container(OmegaConf.select(_cfg(f"{group}={path.stem}"), group), resolve=False)
        for key, value in own.items():
            assert got[key] == value, (path.name, key, got[key], value)


def test_every_generator_config_instantiates():
    from bench.run.cell import build_generator

    for path in sorted((Path(CONF_DIR) / "generator").glob("*.yaml")):
        cfg = _cfg(f"generator={path.stem}")
        gen = build_generator(cfg.generator, 0)
        assert hasattr(gen, "fit") and hasattr(gen, "sample"), path.stem


def test_fair_dataset_config_instantiates():
    d = instantiate(_cfg().dataset, _convert_="all")
    assert d.name == "fair" and len(d.frame) == 6366


def test_run_cell_writes_record_and_long_metrics(tmp_path):
    rec = run_cell(_cfg("profile=fast", "generator=independent", "dataset.max_rows=1500"), tmp_path)
    assert rec["status"] == "ok", rec["error"]
    on_disk = json.loads((tmp_path / "run.json").read_text())
    assert on_disk["config_hash"] == rec["config_hash"] and on_disk["dataset_fingerprint"]
    assert set(on_disk["timings"]) >= {"fit_s", "sample_s", "eval_s"}
    m = pd.read_parquet(tmp_path / "metrics.parquet")
    assert list(m.columns) == [
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
    assert {
        "fidelity.column_shapes",
        "fidelity.pair_trends",
        "utility.tstr_auc",
        "utility.tstr_trtr_ratio",
        "cost.fit_s",
    } <= set(m["metric"])
    assert set(m["direction"]) <= {"maximize", "minimize", "none"}


@pytest.mark.parametrize(
    "target,error",
    [
        ("tests.planted.RaisingGenerator", "planted failure in fit"),
        ("tests.planted.NaNGenerator", "entirely missing"),
        ("tests.planted.WrongColumnsGenerator", "wrong columns"),
    ],
)
def test_a_failing_generator_becomes_a_failed_row(tmp_path, target, error):
    rec = run_cell(_cfg("profile=fast", f"generator._target_={target}"), tmp_path)
    assert rec["status"] == "failed" and error in rec["error"]
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "failed"


def test_target_not_in_table_is_a_named_failure(tmp_path):
    rec = run_cell(_cfg("generator=identity", "dataset.schema.target=nope"), tmp_path)
    assert rec["status"] == "failed"
    assert "SchemaError" in rec["error"] and "'nope'" in rec["error"]


def test_missing_adult_files_fail_with_the_place_to_put_them(tmp_path):
    rec = run_cell(_cfg("dataset=adult", f"dataset.data_dir={tmp_path}"), tmp_path / "run")
    assert rec["status"] == "failed" and "DataNotFoundError" in rec["error"]
    assert "archive.ics.uci.edu" in rec["error"]


def _tailbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_multirun_sweep_aggregates_and_isolates_failures(tmp_path):
    """Failed jobs become rows and the sweep still exits 0 (some job succeeded); seeds fold into one row."""
    sweep = tmp_path / "sweep"
    proc = _tailbench(
        "-m",
        "profile=fast",
        "generator=independent",
        "generator._target_=bench.generators.baselines.IndependentGenerator,tests.planted.RaisingGenerator",
        "seed=0,1",
        "evaluation.utility.models=[hgb]",
        f"hydra.sweep.dir={sweep}",
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 of 4 jobs failed" in proc.stdout and "| fair | independent |" in proc.stdout
    table = pd.read_csv(sweep / "comparison.csv", dtype=str)
    assert list(table["generator"]) == ["independent"] and list(table["runs"]) == ["2/4"]  # failures join the row
    assert "±" in table.filter(like="shapes").iloc[0, 0]  # two seeds folded into one row
    md = (sweep / "comparison.md").read_text()
    assert "Failed runs" in md and "planted failure in fit" in md
    # A job of another generator added later joins the sweep as its own row; re-aggregation picks it up.
    run_cell(_cfg("profile=fast", "generator=identity", "generator._target_=tests.planted.NaNGenerator"), sweep / "9")
    text = aggregate(sweep, quiet=True)
    assert len(text) == 2 and "entirely missing" in (sweep / "comparison.md").read_text()


def test_unknown_generator_on_the_command_line_is_named(tmp_path):
    proc = _tailbench("generator=nope", f"hydra.run.dir={tmp_path}", cwd=ROOT)
    assert proc.returncode != 0
    assert "generator/nope" in proc.stderr and "Traceback" not in proc.stderr


def test_tailbench_report_reaggregates(tmp_path):
    run_cell(_cfg("profile=fast", "generator=independent"), tmp_path / "0")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.report.cli", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "| fair | independent |" in proc.stdout and (tmp_path / "comparison.md").exists()


def test_a_failing_single_run_exits_non_zero_with_its_named_error(tmp_path):
    proc = _tailbench(
        "profile=fast", "generator._target_=tests.planted.RaisingGenerator", f"hydra.run.dir={tmp_path}", cwd=ROOT
    )
    assert proc.returncode == 1, proc.stderr[-1000:]
    assert "RuntimeError: planted failure in fit" in proc.stderr
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "failed"  # the row is still written
    # (a successful single run exits 0: test_schema_ux.py::test_the_example_dataset_config_runs_from_a_config_dir)


def test_a_multirun_exits_non_zero_only_when_every_job_failed(tmp_path):
    """(A sweep where some jobs fail exits 0: test_multirun_sweep_aggregates_and_isolates_failures.)"""
    every = _tailbench(
        "-m",
        "profile=fast",
        "generator._target_=tests.planted.RaisingGenerator",
        "seed=0,1",
        f"hydra.sweep.dir={tmp_path / 'every'}",
        cwd=ROOT,
    )
    assert every.returncode == 1 and "every job of the sweep failed" in every.stderr
    assert "2 of 2 jobs failed" in every.stdout


def test_one_command_sweeps_epsilon_over_dp_and_reference_generators(tmp_path):
    """epsilon is a top-level axis: DP generators take every value, the others run once (ε shown as —)."""
    from hydra_plugins.tailbench_sweeper.tailbench_sweeper import drop_repeated_non_dp

    jobs = [
        [f"generator={g}", f"epsilon={e}", f"seed={s}"]
        for g in ("identity", "dp_marginals")
        for e in ("1", "4", "inf")
        for s in ("0", "1")
    ]
    kept = drop_repeated_non_dp(jobs, None)
    assert [j for j in kept if j[0] == "generator=identity"] == [
        ["generator=identity", "epsilon=1", "seed=0"],
        ["generator=identity", "epsilon=1", "seed=1"],
    ]
    assert len([j for j in kept if j[0] == "generator=dp_marginals"]) == 6
    sweep = tmp_path / "sweep"
    proc = _tailbench(
        "-m",
        "profile=fast",
        "generator=identity,independent,dp_marginals",
        "epsilon=1,inf",
        "seed=0",
        f"hydra.sweep.dir={sweep}",
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list(sweep.glob("*/run.json"))) == 4  # identity, independent once; dp_marginals twice
    table = pd.read_csv(sweep / "comparison.csv", dtype=str)
    got = sorted(zip(table["generator"], table["epsilon"], table["runs"]))
    assert got == [
        ("dp_marginals", "1", "1/1"),
        ("dp_marginals", "inf", "1/1"),
        ("identity", "—", "1/1"),
        ("independent", "—", "1/1"),
    ]
    runs = [json.loads(p.read_text()) for p in sweep.glob("*/run.json")]
    assert {r["epsilon"] for r in runs if r["generator"] == "dp_marginals"} == {1.0, "inf"}


def test_runs_of_two_configurations_are_two_rows_and_seeds_one(tmp_path):
    """Records from run_cell (no Hydra overrides) carry their config: a changed setting splits the row,
    a changed seed does not, and a failed run joins its configuration's row."""
    cells = [("600", "0"), ("600", "1"), ("900", "0"), ("900", "1")]
    for i, (rows, seed) in enumerate(cells):
        rec = run_cell(
            _cfg("profile=fast", "generator=independent", f"dataset.max_rows={rows}", f"seed={seed}"), tmp_path / str(i)
        )
        assert rec["status"] == "ok", rec["error"]
        assert rec["parameters"]["generator.random_state"] == "${seed}"  # unresolved: seeds do not differ
    bad = run_cell(
        _cfg("profile=fast", "generator=independent", "dataset.max_rows=900", "generator._target_=bench.nope.Nope"),
        tmp_path / "bad",
    )
    assert bad["status"] == "failed"
    table = aggregate(tmp_path, quiet=True)
    assert list(table["dataset.max_rows"]) == ["600", "900"]
    assert list(table["runs"]) == ["2/2", "2/3"]
