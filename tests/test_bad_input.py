"""The bad-input matrix: each case gives a named error (or runs) and loses nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from bench.cli import CONF_DIR
from bench.run.cell import run_cell

SCHEMA = {"x": "numerical", "y": "numerical", "color": "categorical", "label": "categorical"}


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + rng.normal(size=n),
            "color": rng.choice(["red", "green", "blue"], size=n),
            "label": np.where(x + rng.normal(size=n) > 0, "pos", "neg"),
        }
    )


def _run(
    tmp_path,
    df: pd.DataFrame | None,
    columns: dict | None = None,
    *extra: str,
    raw: str | None = None,
    generator: str = "independent",
) -> dict:
    path = tmp_path / "table.csv"
    if raw is not None:
        path.write_text(raw)
    else:
        df.to_csv(path, index=False)
    cols = columns or SCHEMA
    over = [
        "dataset=csv",
        "profile=fast",
        "dataset.max_rows=null",
        f"dataset.path={path}",
        f"generator={generator}",
        "evaluation.utility.models=[hgb]",
        "+dataset.schema.target=label",
    ]
    over += [f"+dataset.schema.columns.{c}={k}" for c, k in cols.items()]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=over + list(extra))
    return run_cell(cfg, tmp_path / "run")


@pytest.mark.parametrize(
    "case,make,error_type,error",
    [
        ("empty table", lambda: None, "EmptyTableError", "is empty"),
        ("header only", lambda: "x,y,color,label\n", "EmptyTableError", "has no rows"),
        (
            "missing target",
            lambda: _table().drop(columns="label"),
            "SchemaError",
            "column(s) ['label'] declared in the schema are not in the table",
        ),
        ("all-NaN column", lambda: _table().assign(y=np.nan), "SchemaError", "column 'y' is entirely missing"),
        (
            "ID-like column",
            lambda: _table().assign(color=[f"user{i}" for i in range(400)]),
            "SchemaError",
            "column 'color' is declared categorical but every one",
        ),
        ("fewer than 50 rows", lambda: _table(30), "EmptyTableError", "needs at least 50"),
        (
            "text in a numerical column",
            lambda: _table().assign(x="abc"),
            "SchemaError",
            "column 'x' is declared numerical",
        ),
    ],
)
def test_bad_tables_fail_with_a_named_error(tmp_path, case, make, error_type, error):
    data = make()
    raw = "" if data is None else (data if isinstance(data, str) else None)
    rec = _run(tmp_path, None if isinstance(data, str) or data is None else data, raw=raw)
    assert rec["status"] == "failed", case
    assert rec["error"].startswith(f"{error_type}: "), (case, rec["error"])  # the named error, not a KeyError
    assert error in rec["error"], (case, rec["error"])
    assert (tmp_path / "run" / "run.json").exists()  # the failure is a row, not a crash


@pytest.mark.parametrize(
    "case,make,columns",
    [
        ("constant column", lambda: _table().assign(y=1.0), None),
        (
            "unicode categories",
            lambda: _table().assign(
                color=lambda d: d["color"].map({"red": "rouge ✓", "green": "绿色", "blue": "синий"})
            ),
            None,
        ),
        (
            "datetime column",
            lambda: _table().assign(when=pd.date_range("2020-01-01", periods=400, freq="D")),
            {**SCHEMA, "when": "datetime"},
        ),
        ("declared id column", lambda: _table().assign(uid=[f"u{i}" for i in range(400)]), {**SCHEMA, "uid": "id"}),
    ],
)
@pytest.mark.parametrize("generator", ["independent", "gaussian_copula"])
def test_awkward_but_valid_tables_run(tmp_path, case, make, columns, generator):
    rec = _run(tmp_path, make(), columns, generator=generator)
    assert rec["status"] == "ok", (case, rec["error"])
    assert "metric_errors" not in rec, rec.get("metric_errors")


def test_category_present_only_in_holdout_is_scored(tmp_path):
    df = _table(600)
    # a category so rare that the stratified split can leave it out of train
    df.loc[[5], "color"] = "violet"
    rec = _run(tmp_path, df)
    assert rec["status"] == "ok" and "metric_errors" not in rec


@pytest.mark.parametrize(
    "override,error",
    [
        ("+dataset.schema.bounds.x=[5,1]", "bounds for column 'x'"),
        ("+dataset.schema.domains.x=[a]", "domain given for column 'x' of kind 'numerical'"),
        ("+dataset.schema.sensitive=[nope]", "sensitive lists unknown column"),
        ("+dataset.schema.colour=1", "unknown key"),
    ],
)
def test_malformed_schema_is_named(tmp_path, override, error):
    rec = _run(tmp_path, _table(), None, override)
    assert rec["status"] == "failed" and rec["error"].startswith("SchemaError: ") and error in rec["error"], rec[
        "error"
    ]


def test_bad_kind_is_named(tmp_path):
    rec = _run(tmp_path, _table(), {**SCHEMA, "x": "float"})
    assert rec["status"] == "failed" and rec["error"].startswith("SchemaError: ")
    assert "column 'x' has kind 'float'" in rec["error"]
