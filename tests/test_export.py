"""Synthetic tables in their real types: export, the cache, and scoring by another tool."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench import CONF_DIR
from bench.data.export import raw_formats, restore_types, write_table
from bench.data.loaders import ADULT_COLUMNS, load_dataset
from bench.generators import check_output
from bench.run.cell import build_generator, run_cell

GENERATORS = sorted(p.stem for p in (Path(CONF_DIR) / "generator").glob("*.yaml"))


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def _kind(s: pd.Series) -> str:
    """The format a column has after a file round trip (as raw_formats reads a raw file)."""
    return raw_formats(s.to_frame(), type("S", (), {"columns": {s.name: None}})())[s.name]


@pytest.mark.parametrize("name", GENERATORS)
def test_every_generator_round_trips_in_real_types(name, adult_small, tmp_path):
    """Raw types in (ints, strings with missing values) -> the same types out of parquet and CSV."""
    ds = adult_small
    train = ds.splits().train.iloc[:400]
    gen = build_generator(
        {**OmegaConf.to_container(OmegaConf.load(Path(CONF_DIR) / "generator" / f"{name}.yaml")), "random_state": 0}, 0
    )
    for k, v in (("epochs", 1), ("verbose", False)):
        if hasattr(gen, k):
            setattr(gen, k, v)
    syn = check_output(gen.fit(train, ds.schema).sample(200), 200, ds.schema, name)
    out = restore_types(syn, ds.schema, ds.formats)
    for suffix in ("parquet", "csv"):
        path = write_table(out, tmp_path / f"t.{suffix}")
        back = pd.read_parquet(path) if suffix == "parquet" else pd.read_csv(path)
        for col, fmt in ds.formats.items():
            if back[col].notna().any():
                assert _kind(back[col]) == fmt, (name, suffix, col, back[col].dtype, fmt)
        pd.testing.assert_frame_equal(
            ds.schema.coerce(back, check_target=False).reset_index(drop=True),
            syn.reset_index(drop=True),
            obj=f"{name} via {suffix}",
        )


def test_formats_are_the_raw_files(adult_small, fair):
    assert adult_small.formats["age"] == "int" and adult_small.formats["workclass"] == "str"
    assert fair.formats["rate_marriage"] == "float" and fair.formats["had_affair"] == "str"
    # a categorical column of whole numbers goes back to numbers, not the strings the schema holds inside
    back = restore_types(fair.frame.head(50), fair.schema, fair.formats)
    assert pd.api.types.is_float_dtype(back["rate_marriage"]) and fair.frame["rate_marriage"].map(type).eq(str).all()


def test_exported_adult_table_scored_by_sdmetrics_equals_tailbench(tmp_path, adult_dir):
    """The exported file against the raw Adult rows, in SDMetrics: the quality tailbench reported."""
    from tests.sdmetrics_reference import sdmetrics_quality_report

    cfg = _cfg(
        "dataset=adult",
        f"dataset.data_dir={adult_dir}",
        "dataset.max_rows=3000",
        "generator=gaussian_copula",
        "run.save_synthetic=parquet",
        "profile=fast",
        f"cache.dir={tmp_path / 'cache'}",
    )
    rec = run_cell(cfg, tmp_path / "run")
    assert rec["status"] == "ok" and rec["synthetic_file"] == "synthetic.parquet"
    exported = pd.read_parquet(tmp_path / "run" / "synthetic.parquet")
    assert pd.api.types.is_integer_dtype(exported["age"]) and exported["workclass"].dropna().map(type).eq(str).all()
    ds = load_dataset(OmegaConf.to_container(cfg.dataset, resolve=True))
    # the raw rows of the training split, read from adult.data/adult.test as pandas reads them (not coerced)
    kw = dict(header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?")
    folder = Path(adult_dir) / "adult"
    test = pd.read_csv(folder / "adult.test", skiprows=1, **kw)
    test["income"] = test["income"].str.rstrip(".")
    raw = pd.concat([pd.read_csv(folder / "adult.data", **kw), test], ignore_index=True)
    raw_train = raw.loc[ds.splits().train.index].reset_index(drop=True)
    theirs = sdmetrics_quality_report(raw_train, exported, ds.schema).get_score()
    ours = pd.read_parquet(tmp_path / "run" / "metrics.parquet").set_index(["metric", "subgroup"])["value"]
    assert ours["fidelity.quality_score", "all"] == pytest.approx(theirs, abs=1e-9)
    # the cache holds the same real types
    cached = pd.read_parquet(next((tmp_path / "cache" / "synthetic").glob("*.parquet")))
    assert pd.api.types.is_integer_dtype(cached["age"]) and cached.dtypes.equals(exported.dtypes)


def test_identity_is_never_exported(tmp_path):
    rec = run_cell(_cfg("generator=identity", "run.save_synthetic=csv", "profile=fast"), tmp_path)
    assert rec["status"] == "ok" and "releases real rows" in rec["synthetic_file"]
    assert not list(tmp_path.glob("synthetic.*"))
