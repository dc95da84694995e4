"""tailbench's generator contract for mst and aim, from the plugin's own Hydra configs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tailbench_mbi
from conftest import FAST, FAST_AIM
from omegaconf import OmegaConf

from bench.generators import check_output
from bench.run.cell import build_generator

PLUGIN_CONF = tailbench_mbi.PLUGIN_CONF / "generator"


def build(name: str, seed: int, **overrides):
    cfg = OmegaConf.load(PLUGIN_CONF / f"{name}.yaml")
    cfg.random_state = seed
    cfg.verbose = False
    for k, v in {**(FAST_AIM if name == "aim" else FAST), **overrides}.items():
        cfg[k] = v
    return build_generator(cfg, seed)


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_generator_contract(name, fair, fair_small):
    schema = fair.schema
    gen = build(name, seed=3)
    assert gen.fit(fair_small, schema) is gen
    np.random.seed(123)
    before = np.random.random(3)
    np.random.seed(123)
    out = gen.sample(250)
    assert np.array_equal(np.random.random(3), before), "sampling leaves NumPy's global RNG alone"
    assert isinstance(out, pd.DataFrame) and len(out) == 250
    assert list(out.columns) == list(schema.columns)
    checked = check_output(out, 250, schema, name)  # kinds convert without error
    for col in schema.numerical:
        assert pd.api.types.is_numeric_dtype(checked[col]), col
        lo, hi = gen.bounds_.bounds[col]  # fair's bounds are DP releases inside schema.dp_bounds
        assert checked[col].dropna().between(lo, hi).all(), col
        assert schema.dp_bounds[col][0] <= lo < hi <= schema.dp_bounds[col][1], col
    for col in schema.categorical:
        assert checked[col].dropna().isin(schema.domains[col]).all(), col
    assert not out.isna().any().any()  # fair declares no nullable column
    again = build(name, seed=3).fit(fair_small, schema).sample(250)
    pd.testing.assert_frame_equal(out, again, obj=f"{name}: same seed, same output")
    ps = gen.privacy_spent()
    assert ps.epsilon <= gen.epsilon and ps.neighbouring == "replace-one" and ps.full_scope
