"""A user's own table: the schema route, its errors and its warnings."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from bench import CONF_DIR
from bench.run.cell import run_cell

ROOT = Path(__file__).resolve().parent.parent


def _table(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    age = rng.integers(18, 90, n)
    status = np.where(rng.random(n) < 0.3, "dead", "alive")
    return pd.DataFrame(
        {
            "age": age,
            "sex": rng.choice(["female", "male"], n),
            "lab_value": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 50, n)),
            "status": status,
            "cause": np.where(status == "dead", rng.choice(["cancer", "cardiac", "other"], n), None),
            "patient_id": [f"p{i}" for i in range(n)],
            "notes": ["x"] * n,
        }
    )


def _example_config(tmp_path: Path) -> Path:
    """examples/dataset_mytable.yaml, pointed at a table of that shape, in a config folder of the user's."""
    path = tmp_path / "mytable.csv"
    _table().to_csv(path, index=False)
    folder = tmp_path / "conf" / "dataset"
    folder.mkdir(parents=True)
    text = (ROOT / "examples" / "dataset_mytable.yaml").read_text().replace("/path/to/mytable.csv", str(path))
    (folder / "mytable.yaml").write_text(text)
    return tmp_path / "conf"


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_the_example_dataset_config_runs_from_a_config_dir(tmp_path):
    import subprocess
    import sys

    conf = _example_config(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "--config-dir",
            str(conf),
            "dataset=mytable",
            "profile=fast",
            "dataset.max_rows=null",
            "generator=independent",
            f"hydra.run.dir={tmp_path / 'run'}",
            f"cache.dir={tmp_path / 'cache'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    rec = json.loads((tmp_path / "run" / "run.json").read_text())
    assert rec["status"] == "ok" and rec["dataset"] == "mytable"
    assert "notes" in proc.stderr + proc.stdout  # the left-out column is named in the log


def test_an_unset_path_is_a_clear_error(tmp_path):
    rec = run_cell(_cfg("dataset=csv", "profile=fast", "+dataset.schema.columns.x=numerical"), tmp_path)
    assert rec["status"] == "failed" and rec["error"].startswith("ConfigError: dataset.path is required")


def test_left_out_columns_are_named_and_utility_without_target_says_why(tmp_path, caplog):
    path = tmp_path / "t.csv"
    _table().to_csv(path, index=False)
    with caplog.at_level(logging.WARNING):
        rec = run_cell(
            _cfg(
                "dataset=csv",
                "profile=fast",
                "dataset.max_rows=null",
                f"dataset.path={path}",
                "dataset.name=mine",
                "+dataset.schema.columns.age=numerical",
                "+dataset.schema.columns.sex=categorical",
                "generator=independent",
            ),
            tmp_path / "r",
        )
    assert rec["status"] == "ok" and rec["dataset"] == "mine"
    assert "lab_value, status, cause, patient_id, notes" in caplog.text
    assert "no target column declared" in rec["skipped"]["utility"]


def test_extra_constraints_from_the_command_line(tmp_path):
    path = tmp_path / "t.csv"
    _table().to_csv(path, index=False)
    rec = run_cell(
        _cfg(
            "dataset=csv",
            "profile=fast",
            "dataset.max_rows=null",
            f"dataset.path={path}",
            "+dataset.schema.columns.age=numerical",
            "+dataset.schema.columns.status=categorical",
            "+dataset.schema.columns.cause=categorical",
            "generator=independent",
            "evaluation.validity.extra_constraints=[\"cause.isna() == (status == 'alive')\"]",
        ),
        tmp_path / "r",
    )
    assert rec["status"] == "ok", rec["error"]
    assert "cause.isna() == (status == 'alive')" in rec["validity"]["constraints"]
    assert rec["validity"]["by_constraint"]["cause.isna() == (status == 'alive')"] > 0  # independent breaks it
