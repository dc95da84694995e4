"""Property-based tests (hypothesis) for loaders and metrics on random small tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.data import Schema, make_splits
from bench.metrics.shapes import ks_complement, quality_scores, tv_complement

CATS = st.sampled_from(["a", "b", "c", "dé", "ß", "z z"])


@st.composite
def tables(draw, min_rows=50, max_rows=160):
    n = draw(st.integers(min_rows, max_rows))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_num = draw(st.integers(1, 3))
    n_cat = draw(st.integers(1, 3))
    cols, kinds = {}, {}
    for i in range(n_num):
        x = rng.normal(size=n) * draw(st.floats(0.1, 100)) + draw(st.floats(-50, 50))
        if draw(st.booleans()):
            x = np.round(x)
        mask = rng.random(n) < draw(st.floats(0, 0.2))
        mask[0] = False  # never all-NaN
        x[mask] = np.nan
        cols[f"n{i}"], kinds[f"n{i}"] = x, "numerical"
    alphabet = draw(st.lists(CATS, min_size=2, max_size=6, unique=True))
    for i in range(n_cat):
        v = rng.choice(alphabet, size=n).astype(object)
        v[rng.random(n) < draw(st.floats(0, 0.2))] = None
        v[0] = alphabet[0]
        cols[f"c{i}"], kinds[f"c{i}"] = v, "categorical"
    y = rng.choice(["p", "q"], size=n).astype(object)
    y[:3], y[3:6] = "p", "q"
    cols["y"], kinds["y"] = y, "categorical"
    return pd.DataFrame(cols), Schema(name="t", columns=kinds, target="y")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(0, 1000))
def test_coerce_and_splits_partition_any_table(data, seed):
    df, schema = data
    frame = schema.coerce(df)
    sp = make_splits(frame, schema, seed=seed)
    parts = [sp.train.index, sp.holdout.index, sp.reference.index]
    assert sum(len(p) for p in parts) == len(frame)
    assert len(set().union(*map(set, parts))) == len(frame)
    sp2 = make_splits(frame, schema, seed=seed)
    assert sp.train.index.equals(sp2.train.index)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80), st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80))
def test_ks_complement_equals_sdmetrics(a, b):
    from sdmetrics.single_column import KSComplement

    ours = ks_complement(pd.Series(a), pd.Series(b))
    assert 0.0 <= ours <= 1.0
    assert abs(ours - KSComplement.compute(pd.Series(a), pd.Series(b))) < 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(CATS, min_size=1, max_size=80), st.lists(CATS, min_size=1, max_size=80))
def test_tv_complement_equals_sdmetrics(a, b):
    from sdmetrics.single_column import TVComplement

    ours = tv_complement(pd.Series(a), pd.Series(b))
    assert -1e-9 <= ours <= 1.0
    assert abs(ours - TVComplement.compute(pd.Series(a), pd.Series(b))) < 1e-12


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(20, 200), st.integers(0, 2**31 - 1))
def test_quality_report_equals_sdmetrics_on_random_tables(real_data, m, seed):
    real, schema = real_data
    # a "synthetic" table: real rows resampled, one column shuffled on its own
    rng = np.random.default_rng(seed)
    syn = real.sample(n=m, replace=True, random_state=seed).reset_index(drop=True)
    col = syn.columns[rng.integers(len(syn.columns))]
    syn[col] = rng.permutation(syn[col].to_numpy())
    from sdmetrics.reports.single_table import QualityReport

    real, syn = schema.coerce(real), schema.coerce(syn)
    ours = quality_scores(real, syn, schema)
    md = {"columns": {c: {"sdtype": k} for c, k in schema.columns.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = QualityReport()
        rep.generate(real, syn, md, verbose=False)
    props = rep.get_properties().set_index("Property")["Score"]
    assert abs(ours["column_shapes"] - props["Column Shapes"]) < 1e-9
    theirs_pairs = props["Column Pair Trends"]
    assert (np.isnan(ours["pair_trends"]) and np.isnan(theirs_pairs)) or abs(ours["pair_trends"] - theirs_pairs) < 1e-9
    assert abs(ours["quality_score"] - rep.get_score()) < 1e-9
