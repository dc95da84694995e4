"""Our column shapes, pair trends and quality score equal SDMetrics' QualityReport.

Real Adult training split against synthetic tables from identity, independent,
faker and a Gaussian copula, with the QualityReport's default real-trend
thresholds and with both thresholds at 0 (every pair counts). Tolerance 1e-9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.generators import make_generator
from bench.metrics.shapes import RealProfile, column_pair_trends, column_shapes, quality_scores
from tests.sdmetrics_reference import sdmetrics_quality_report

TOL = 1e-9


@pytest.fixture(scope="session")
def train(adult):
    return adult.splits().train


@pytest.fixture(scope="session")
def profile(adult, train):
    return RealProfile.from_frame(train, adult.schema)


@pytest.fixture(scope="session")
def tables(adult, train, adult_small):
    out = {}
    for name in ("identity", "independent", "faker"):
        out[name] = make_generator(name, random_state=1).fit(train, adult.schema).sample(len(train))
    # Gaussian copula fitted on the capped table (fast), scored against the full training split.
    small = adult_small.splits().train
    out["gaussian_copula"] = make_generator("gaussian_copula", random_state=0).fit(small, adult.schema).sample(5000)
    return out


@pytest.mark.parametrize("thresholds", [True, False], ids=["default-thresholds", "all-pairs"])
@pytest.mark.parametrize("generator", ["identity", "independent", "faker", "gaussian_copula"])
def test_quality_report_equal(adult, train, profile, tables, generator, thresholds):
    syn = tables[generator]
    rep = sdmetrics_quality_report(train, syn, adult.schema, thresholds)
    ours = quality_scores(profile, syn)

    theirs_shapes = rep.get_details("Column Shapes").set_index("Column")["Score"]
    mine_shapes = ours["shapes"].set_index("column")["score"]
    assert set(mine_shapes.index) == set(theirs_shapes.index)
    np.testing.assert_allclose(mine_shapes[theirs_shapes.index].to_numpy(), theirs_shapes.to_numpy(), atol=TOL, rtol=0)

    det = rep.get_details("Column Pair Trends")
    theirs_pairs = det.set_index(["Column 1", "Column 2"])
    mine_pairs = ours["pairs"].set_index(["column_1", "column_2"])
    assert len(mine_pairs) == len(theirs_pairs)
    mine_met = mine_pairs["meets_threshold"].astype("boolean").fillna(False).astype(bool)
    theirs_met = theirs_pairs["Meets Threshold?"].astype("boolean").fillna(False).astype(bool)
    if thresholds:
        assert (mine_met[theirs_met.index] == theirs_met).all()
        # Below-threshold pairs are NaN in SDMetrics; compare the contributing ones.
        sel = theirs_met[theirs_met].index
    else:
        sel = theirs_pairs.index
    np.testing.assert_allclose(
        mine_pairs.loc[sel, "score"].to_numpy(float), theirs_pairs.loc[sel, "Score"].to_numpy(float), atol=TOL, rtol=0
    )

    props = rep.get_properties().set_index("Property")["Score"]
    pair_key = "pair_trends" if thresholds else "pair_trends_all"
    assert ours["column_shapes"] == pytest.approx(props["Column Shapes"], abs=TOL)
    assert ours[pair_key] == pytest.approx(props["Column Pair Trends"], abs=TOL)
    if thresholds:
        assert ours["quality_score"] == pytest.approx(rep.get_score(), abs=TOL)
    else:
        assert np.nanmean([ours["column_shapes"], ours["pair_trends_all"]]) == pytest.approx(rep.get_score(), abs=TOL)


def test_functions_without_profile_equal_profile_path(adult, train, profile, tables):
    syn = tables["independent"]
    a = column_shapes(train, syn, adult.schema)
    b = quality_scores(profile, syn)["shapes"]
    pd.testing.assert_frame_equal(a, b)
    c = column_pair_trends(train, syn, adult.schema)
    pd.testing.assert_frame_equal(c, quality_scores(profile, syn)["pairs"])


def test_unseen_category_and_missing_values_equal(adult, train, profile, tables):
    """A category absent from the real table and extra NaN: SDMetrics' 1e-6 regularisation."""
    syn = tables["independent"].copy()
    syn.loc[:199, "workclass"] = "Invented-class"
    syn.loc[200:499, "occupation"] = np.nan
    rep = sdmetrics_quality_report(train, syn, adult.schema, thresholds=False)
    ours = quality_scores(profile, syn)
    theirs = rep.get_details("Column Shapes").set_index("Column")["Score"]
    mine = ours["shapes"].set_index("column")["score"]
    np.testing.assert_allclose(mine[theirs.index].to_numpy(), theirs.to_numpy(), atol=TOL, rtol=0)
    assert ours["pair_trends_all"] == pytest.approx(
        rep.get_properties().set_index("Property")["Score"]["Column Pair Trends"], abs=TOL
    )
