"""One contract test run against every generator config (as sklearn's check_estimator)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from bench.errors import UnknownGeneratorError
from bench.generators import available_generators, check_output, make_generator
from bench.run.cell import build_generator

CONF = Path(__file__).resolve().parent.parent / "conf" / "generator"
CONFIGS = sorted(p.stem for p in CONF.glob("*.yaml"))
FAST = {"epochs": 2}  # contract, not quality: trained generators run two epochs


def _build(name: str, seed: int):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    cfg.random_state = seed
    for k, v in FAST.items():
        if k in cfg:
            cfg[k] = v
    if "verbose" in cfg:
        cfg.verbose = False
    return build_generator(cfg, seed)


@pytest.fixture(scope="session")
def fair_small(fair):
    from bench.data.loaders import Dataset

    frame = fair.frame.sample(n=1200, random_state=0).sort_index()
    return Dataset(name="fair", frame=frame, schema=fair.schema, split=fair.split).splits().train


@pytest.mark.parametrize("name", CONFIGS)
def test_generator_contract(name, fair, fair_small):
    schema = fair.schema
    gen = _build(name, seed=3)
    assert gen.fit(fair_small, schema) is gen
    out = gen.sample(250)
    assert isinstance(out, pd.DataFrame) and len(out) == 250
    assert list(out.columns) == list(schema.columns)
    checked = check_output(out, 250, schema, name)  # kinds convert without error
    for col in schema.numerical:
        assert pd.api.types.is_numeric_dtype(checked[col]), col
    for col in schema.categorical:
        assert checked[col].dropna().map(type).eq(str).all(), col
    again = _build(name, seed=3).fit(fair_small, schema).sample(250)
    pd.testing.assert_frame_equal(out, again, obj=f"{name}: same seed, same output")


def test_every_registered_generator_has_a_config():
    # built-in generators have a file in conf/generator; an entry-point generator (an installed
    # plugin such as tailbench-mbi) brings its config on Hydra's search path instead
    from hydra import compose, initialize_config_dir

    from bench.cli import CONF_DIR

    outside = sorted(set(available_generators()) - set(CONFIGS))
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        for name in outside:
            cfg = compose(config_name="config", overrides=[f"generator={name}"])
            assert cfg.generator.name == name


def test_unknown_generator_is_a_named_error():
    with pytest.raises(UnknownGeneratorError, match="unknown generator 'nope'.*identity"):
        make_generator("nope")
    with pytest.raises(UnknownGeneratorError, match="cannot be imported"):
        build_generator({"_target_": "bench.generators.nope.Missing"}, 0)


def _fit_sample(name: str, train: pd.DataFrame, schema) -> pd.DataFrame:
    from bench.run.record import set_threads

    set_threads(1)
    return _build(name, seed=3).fit(train, schema).sample(250)


@pytest.mark.parametrize("name", ["ctgan", "tvae"])
def test_same_seed_same_table_in_joblib_workers(name, fair, fair_small):
    # Sweeps fit generators in loky workers. ctgan's DataTransformer runs Parallel(n_jobs=-1)
    # over columns for >= 500 rows, which falls back to threads inside a worker and raced on
    # numpy's global RNG: every worker gave a different table for the same seed.
    from joblib import Parallel, delayed

    assert len(fair_small) >= 500  # the size at which ctgan parallelises its transform
    here = _fit_sample(name, fair_small, fair.schema)
    there = Parallel(n_jobs=2)(delayed(_fit_sample)(name, fair_small, fair.schema) for _ in range(2))
    for out in there:
        pd.testing.assert_frame_equal(out, here, obj=f"{name}: worker vs main process")
