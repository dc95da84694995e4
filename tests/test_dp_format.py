"""Issue #15, point 1: one training record must not change a DP generator's output format.

The DP generators (dp_tvae, dp_ctgan, dp_marginals) used to decide which
numerical columns to round from the training rows' dtypes: the loader makes a
column int64 only when none of its values is NaN or fractional, so adding one
record with ``age = NaN`` turned dp_tvae's synthetic ages fractional, and a
neighbour was distinguishable with certainty. The format now comes from the
public schema (``integers``, ``nullable``). This file uses only APIs that
existed before the fix, so it can be run against the old code to show it fail.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bench.data.schema import Schema
from bench.generators import check_output, make_generator

MODELS = [("dp_tvae", {}), ("dp_ctgan", dict(generator_dim=[32, 32], discriminator_dim=[32])), ("dp_marginals", {})]


def _one_more_record(train: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Training rows plus one record: NaN age, fractional hours-per-week, NaN in the non-nullable 'sex'."""
    extra = train.iloc[[0]].copy()
    extra.index = [train.index.max() + 1]
    extra["age"] = np.nan
    extra["hours-per-week"] = 40.5
    extra["sex"] = np.nan
    return schema.coerce(pd.concat([train, extra]))


def _format(table: pd.DataFrame, schema: Schema) -> dict:
    """A synthetic table's format: dtypes, whole-number numerical columns, columns holding NaN."""
    return {
        "dtypes": {c: str(t) for c, t in table.dtypes.items()},
        "integral": sorted(c for c in schema.numerical if (table[c].dropna() % 1 == 0).all()),
        "nan": sorted(c for c in table.columns if table[c].isna().any()),
    }


def _fitted_state(gen) -> list[dict]:
    """The fitted preprocessing, without DP-released bound values (a DP release may move with the data)."""
    if hasattr(gen, "transformer_"):
        state = gen.transformer_.state()
    else:
        state = [dataclasses.asdict(s) for s in gen.slots_]
    released = getattr(getattr(gen, "bounds_", None), "released", [])
    out = []
    for s in state:
        s = dict(s)
        if s.get("source") == "dp" or s["name"] in released:
            s.pop("low"), s.pop("high")
        out.append(s)
    return out


@pytest.mark.parametrize("name,kw", MODELS)
def test_one_record_changes_no_output_format(name, kw, adult_small):
    schema = adult_small.schema
    train = adult_small.splits().train
    other = _one_more_record(train, schema)
    assert str(train["age"].dtype) == "int64" and str(other["age"].dtype) == "float64"  # the loader's view
    extra = {} if name == "dp_marginals" else dict(epochs=2, batch_size=200, verbose=False)
    fits = [make_generator(name, epsilon=1.0, random_state=0, **extra, **kw).fit(t, schema) for t in (train, other)]
    assert _fitted_state(fits[0]) == _fitted_state(fits[1])
    formats = [_format(check_output(g.sample(3000), 3000, schema, name), schema) for g in fits]
    assert formats[0] == formats[1]
    f = formats[0]
    assert f["integral"] == sorted(schema.integers)
    assert set(f["nan"]) <= set(schema.nullable)  # 'sex' never comes out missing
    assert all(f["dtypes"][c] == "int64" for c in schema.integers)
