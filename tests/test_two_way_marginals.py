"""The 2-way marginal error on the schema's public discretisation (bench.metrics.association.two_way_marginal_error)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.metrics.association import public_cells, two_way_marginal_error


def test_identical_tables_score_zero_and_shuffled_columns_do_not(fair):
    train = fair.splits().train
    same = two_way_marginal_error(train, train.sample(frac=1.0, random_state=0), fair.schema)
    assert same["mean"] == pytest.approx(0.0, abs=1e-12)
    k = len(fair.schema.modelled)
    assert len(same["pairs"]) == k * (k - 1) // 2
    rng = np.random.default_rng(0)
    indep = train.apply(lambda s: s.to_numpy()[rng.permutation(len(s))])  # same columns, no pairs kept
    broken = two_way_marginal_error(train, indep, fair.schema)
    assert 0.01 < broken["mean"] <= broken["max"] <= 1.0


def test_tv_of_one_pair_by_hand(fair):
    schema = fair.schema
    real = fair.frame.iloc[:4].copy()
    syn = real.copy()
    real["rate_marriage"] = ["1", "1", "2", "2"]
    real["had_affair"] = ["no", "yes", "no", "yes"]
    syn["rate_marriage"] = ["1", "1", "1", "1"]
    syn["had_affair"] = ["no", "yes", "no", "yes"]
    pairs = two_way_marginal_error(real, syn, schema)["pairs"].set_index(["column_a", "column_b"])
    # real: (1,no),(1,yes),(2,no),(2,yes) a quarter each; synthetic: (1,no),(1,yes) a half each
    assert pairs.loc[("rate_marriage", "had_affair"), "tv"] == pytest.approx(0.5)


def test_cells_come_from_public_bounds_not_the_rows(fair):
    schema = fair.schema
    t = pd.DataFrame({c: fair.frame[c].iloc[:3] for c in schema.columns})
    t["age"] = [17.5, 1e9, np.nan]  # clipped to the high bound; NaN has its own cell
    t["educ"] = ["9", "unknown", None]  # out of domain and missing share the extra cell
    cells = public_cells(t, schema, n_bins=10)
    assert list(cells["age"]) == [0, 9, 10]
    assert list(cells["educ"]) == [0, 6, 6]
