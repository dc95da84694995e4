"""Loaders, schema and splits on the real tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data import Schema, load_adult, load_csv, load_fair
from bench.data.loaders import ADULT_URL
from bench.errors import ChecksumError, ConfigError, DataNotFoundError, EmptyTableError, SchemaError
from tests.conftest import dataset_cfg


def test_fair_is_the_embedded_statsmodels_table(fair):
    assert fair.frame.shape == (6366, 10)
    assert fair.schema.target == "had_affair"
    assert fair.schema.categorical == [
        "rate_marriage",
        "religious",
        "educ",
        "occupation",
        "occupation_husb",
        "had_affair",
    ]
    # the target is derived from `affairs` > 0, which is excluded from the utility features
    assert ((fair.frame["affairs"] > 0) == (fair.frame["had_affair"] == "yes")).all()
    assert "affairs" in fair.schema.feature_exclude
    # public domains cover every category present
    for col, dom in fair.schema.domains.items():
        assert set(fair.frame[col].unique()) <= set(dom), col


def test_adult_combines_both_files_with_quirks_handled(adult):
    df = adult.frame
    assert df.shape == (48842, 15)
    assert set(df["income"].unique()) == {"<=50K", ">50K"}  # test-file periods stripped
    assert (df["income"] == ">50K").sum() == 7841 + 3846
    assert df["workclass"].isna().sum() == 1836 + 963  # "?" read as missing
    assert df["age"].dtype == np.int64
    for col, dom in adult.schema.domains.items():
        assert set(df[col].dropna().unique()) <= set(dom), col


def test_splits_are_fixed_disjoint_and_stratified(fair):
    a, b = fair.splits(), fair.splits()
    pd.testing.assert_frame_equal(a.train, b.train)
    ids = [set(a.train.index), set(a.holdout.index), set(a.reference.index)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert sum(map(len, ids)) == len(fair.frame)
    rate = (fair.frame["had_affair"] == "yes").mean()
    for part in (a.train, a.holdout, a.reference):
        assert abs((part["had_affair"] == "yes").mean() - rate) < 0.01


def test_max_rows_caps_with_a_seeded_stratified_sample():
    d1 = load_fair(**dataset_cfg("fair", max_rows=500))
    d2 = load_fair(**dataset_cfg("fair", max_rows=500))
    assert len(d1.frame) == 500
    pd.testing.assert_frame_equal(d1.frame, d2.frame)
    assert d1.fingerprint == d2.fingerprint != load_fair(**dataset_cfg("fair")).fingerprint


def test_missing_adult_files_name_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.delenv("TAILBENCH_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError, match="TAILBENCH_DATA_DIR"):
        load_adult(**dataset_cfg("adult", data_dir=None))
    with pytest.raises(DataNotFoundError) as err:
        load_adult(**dataset_cfg("adult", data_dir=str(tmp_path)))
    assert "adult.data" in str(err.value) and ADULT_URL in str(err.value)


def test_checksum_mismatch_is_a_named_error(tmp_path, adult_dir):
    from bench.data.loaders import resolve_data_dir

    src = resolve_data_dir(adult_dir, "adult")
    dst = tmp_path / "adult"
    dst.mkdir()
    for f in ("adult.data", "adult.test"):
        shutil.copy(src / f, dst / f)
    with open(dst / "adult.test", "ab") as fh:
        fh.write(b"1, Private, 1, HS-grad, 9, Divorced, Sales, Unmarried, White, Male, 0, 0, 1, Peru, >50K.\n")
    with pytest.raises(ChecksumError, match="adult.test"):
        load_adult(**dataset_cfg("adult", data_dir=str(tmp_path)))


def test_csv_loader_with_schema_block_and_with_sdv_metadata(tmp_path, fair):
    path = tmp_path / "fair.csv"
    fair.frame.to_csv(path, index=False)
    schema = {"columns": fair.schema.columns, "target": "had_affair"}
    d = load_csv(path=str(path), schema=schema, name="mine")
    assert d.frame.shape == fair.frame.shape and d.schema.target == "had_affair"
    pq = tmp_path / "fair.parquet"
    fair.frame.to_parquet(pq)
    assert load_csv(path=str(pq), schema=schema).frame.shape == fair.frame.shape
    meta = {
        "METADATA_SPEC_VERSION": "V1",
        "tables": {"fair": {"columns": {c: {"sdtype": k} for c, k in fair.schema.columns.items()}}},
    }
    mpath = tmp_path / "metadata.json"
    mpath.write_text(json.dumps(meta))
    d2 = load_csv(path=str(path), sdv_metadata=str(mpath), schema={"target": "had_affair"})
    assert d2.schema.columns == fair.schema.columns and d2.schema.target == "had_affair"


def test_bad_tables_give_named_errors(tmp_path, fair):
    schema = {"columns": fair.schema.columns, "target": "had_affair"}
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(EmptyTableError):
        load_csv(path=str(empty), schema=schema)
    header = tmp_path / "header.csv"
    header.write_text(",".join(fair.frame.columns) + "\n")
    with pytest.raises(EmptyTableError, match="no rows"):
        load_csv(path=str(header), schema=schema)
    notarget = tmp_path / "notarget.csv"
    fair.frame.drop(columns="had_affair").to_csv(notarget, index=False)
    with pytest.raises(SchemaError, match="had_affair"):
        load_csv(path=str(notarget), schema=schema)
    with pytest.raises(SchemaError, match="target column 'income'"):
        Schema.from_dict({"columns": {"a": "numerical"}, "target": "income"})
    with pytest.raises(SchemaError, match="kind 'number'"):
        Schema.from_dict({"columns": {"a": "number"}})
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_csv(path=str(tmp_path / "nope.csv"), schema=schema)
    tiny = tmp_path / "tiny.csv"
    fair.frame.groupby("had_affair").head(10).to_csv(tiny, index=False)
    with pytest.raises(EmptyTableError, match="at least 50"):
        load_csv(path=str(tiny), schema=schema).splits()
    with pytest.raises(ConfigError, match="sum to 1"):
        load_fair(**dataset_cfg("fair", split={"train": 0.5, "holdout": 0.2, "reference": 0.2})).splits()


def test_load_dataset_file_resolves_the_environment_like_a_run(monkeypatch, adult_dir):
    """Scripts load conf/dataset/adult.yaml outside Hydra: ${oc.env:TAILBENCH_DATA_DIR} resolves."""
    from bench.data.loaders import load_dataset_file

    conf = Path(__file__).resolve().parent.parent / "conf" / "dataset"
    monkeypatch.setenv("TAILBENCH_DATA_DIR", str(adult_dir))
    ds = load_dataset_file(conf / "adult.yaml", max_rows=1000)
    assert ds.name == "adult" and len(ds.frame) == 1000
    monkeypatch.delenv("TAILBENCH_DATA_DIR")
    with pytest.raises(DataNotFoundError):
        load_dataset_file(conf / "adult.yaml", max_rows=1000)


# ------------------------------------------------- public output format and bounds
def _fair_dict(fair, **changes):
    return {**fair.schema.to_dict(), **changes}


@pytest.mark.parametrize("field", ["integers", "nullable"])
def test_format_lists_name_unknown_columns_and_wrong_kinds(fair, field):
    with pytest.raises(SchemaError, match=f"{field} lists unknown column 'nope'"):
        Schema.from_dict(_fair_dict(fair, **{field: ["nope"]}), name="fair")
    bad = "educ" if field == "integers" else None  # integers take numerical columns only
    if bad:
        with pytest.raises(SchemaError, match=f"{field} lists column 'educ' of kind 'categorical'"):
            Schema.from_dict(_fair_dict(fair, **{field: [bad]}), name="fair")
    with pytest.raises(SchemaError, match=f"{field} must be a list"):
        Schema.from_dict(_fair_dict(fair, **{field: "age"}), name="fair")


def test_format_bounds_and_sources_round_trip(adult):
    s = adult.schema
    assert s.integers == ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    assert s.nullable == ["workclass", "occupation", "native-country"]
    assert "fnlwgt" in s.dp_bounds and "fnlwgt" not in s.bounds
    back = Schema.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s


def test_every_bound_of_the_shipped_datasets_cites_a_source(adult, fair):
    for ds in (adult, fair):
        s = ds.schema
        assert set(s.bounds) | set(s.dp_bounds) == set(s.numerical), ds.name
        assert set(s.bounds_source) == set(s.numerical), ds.name
        assert all(len(src) > 20 for src in s.bounds_source.values()), ds.name
    # the old "public" bounds that were the data's extremes are gone
    assert adult.schema.bounds["capital-loss"][1] != adult.frame["capital-loss"].max()
    assert adult.schema.bounds["hours-per-week"][1] != adult.frame["hours-per-week"].max()
    assert adult.schema.bounds["age"][1] != adult.frame["age"].max()
    for col in fair.schema.numerical:  # fair's codebook documents no range: all are DP releases
        lo, hi = fair.schema.dp_bounds[col]
        assert (lo, hi) != (fair.frame[col].min(), fair.frame[col].max()), col
        assert hi > fair.frame[col].max(), col


def test_bounds_sources_and_dp_bounds_are_validated(fair):
    with pytest.raises(SchemaError, match="both public bounds and dp_bounds"):
        Schema.from_dict(_fair_dict(fair, bounds={"age": [0, 120]}), name="fair")
    with pytest.raises(SchemaError, match="bounds_source given for column 'educ'"):
        Schema.from_dict(_fair_dict(fair, bounds_source={"educ": "x"}), name="fair")
    with pytest.raises(SchemaError, match="dp_bounds for column 'age' must be finite with low < high"):
        Schema.from_dict(_fair_dict(fair, dp_bounds={"age": [5, 1]}), name="fair")
    with pytest.raises(SchemaError, match="dp_bounds given for column 'educ' of kind 'categorical'"):
        Schema.from_dict(_fair_dict(fair, dp_bounds={"educ": [0, 1]}), name="fair")
