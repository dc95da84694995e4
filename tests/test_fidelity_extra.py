"""Detection, association structure, validity, tails and segments on real Adult tables.

Reference generators set the expectations: identity (the real rows) is
undetectable and keeps every rare category; independent (each column drawn
from its own marginal) keeps marginals and loses the association structure;
faker (uniform values within public bounds and domains) breaks the tails and
the education <-> education-num dependency; a generator trained without one
rare category loses it, by name.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association

from bench.errors import ConfigError
from bench.generators import make_generator
from bench.generators.base import check_output
from bench.metrics.association import association_distance, association_matrix
from bench.metrics.context import EvalContext
from bench.metrics.detection import auc_from_scores, detection_auc, logistic_detection
from bench.metrics.families import score as evaluate
from bench.metrics.shapes import RealProfile, quality_scores
from bench.metrics.tails import prdc, prdc_features, tail_mass_ratio
from bench.metrics.validity import constraint_mask, quote_columns, validity

ADULT_FD = "education -> education-num"


def _settings(**override) -> dict:
    import yaml

    from tests.conftest import CONF

    s = yaml.safe_load((CONF / "evaluation" / "default.yaml").read_text())
    s["utility"]["enabled"] = False  # scored elsewhere; keeps this file fast
    s["fidelity"]["n_bootstrap"] = 5
    s["association"]["n_bootstrap"] = 5
    for k, v in override.items():
        s[k] = {**s.get(k, {}), **v}
    return s


@pytest.fixture(scope="session")
def splits(adult_small):
    return adult_small.splits()


@pytest.fixture(scope="session")
def syn(adult_small, splits):
    out = {}
    for name in ("identity", "independent", "faker"):
        gen = make_generator(name, random_state=0).fit(splits.train, adult_small.schema)
        out[name] = check_output(gen.sample(len(splits.train)), len(splits.train), adult_small.schema, name)
    return out


@pytest.fixture(scope="session")
def scored(adult_small, splits, syn):
    """evaluate() with every family on each reference generator: (rows frame, run record, errors)."""
    out = {}
    for name, table in syn.items():
        ctx = EvalContext(dataset=adult_small, splits=splits, synthetic=table, seed=0)
        rows, errors, _ = evaluate(ctx, _settings(validity={"extra_constraints": {"adult": [ADULT_FD]}}))
        out[name] = (pd.DataFrame(rows), ctx.cache.get("run_record", {}), errors)
    return out


def value(frame: pd.DataFrame, name: str, subgroup: str = "all") -> float:
    sel = frame[(frame["metric"] == name) & (frame["subgroup"] == subgroup)]
    assert len(sel) == 1, (name, subgroup, len(sel))
    return float(sel["value"].iloc[0])


# ------------------------------------------------------------------ must show
def test_every_family_runs_without_error(scored):
    for name, (_, _, errors) in scored.items():
        assert errors == {}, (name, errors)


def test_identity_is_undetectable_and_keeps_every_rare_category(scored):
    rows, rec, _ = scored["identity"]
    assert value(rows, "fidelity.detection_auc") == pytest.approx(0.5, abs=0.02)
    assert value(rows, "fidelity.logistic_detection") > 0.95
    assert value(rows, "tails.rare_category_retention") == 1.0
    for b in ("count_1", "count_2-5", "count_6-20"):
        assert value(rows, "tails.rare_category_retention", b) == 1.0
    assert rec["lost_rare_categories"] == []
    assert value(rows, "tails.tail_mass_ratio") == pytest.approx(1.0)
    assert value(rows, "fidelity.association_distance") < 1e-9
    assert value(rows, "fidelity.validity") == 1.0
    assert value(rows, "tails.prdc_precision") == 1.0 and value(rows, "tails.prdc_coverage") == 1.0


def test_identity_subsample_detection_is_near_chance(adult_small, splits):
    # Real and synthetic samples drawn separately: only some rows have a twin.
    table = splits.train.sample(1200, random_state=3)
    res = detection_auc(splits.train, table, adult_small.schema, seed=0, n_bootstrap=50)
    assert abs(res["auc"] - 0.5) < 0.05, res
    assert res["ci_low"] <= res["auc"] <= res["ci_high"]


def test_independent_keeps_marginals_but_loses_the_association_structure(scored):
    ind, rec, _ = scored["independent"]
    ident, _, _ = scored["identity"]
    assert value(ind, "fidelity.column_shapes") > 0.96
    dist = value(ind, "fidelity.association_distance")
    assert dist > 1.5 and dist > 100 * max(value(ident, "fidelity.association_distance"), 1e-3)
    assert value(ind, "fidelity.detection_auc") > 0.9
    # LogisticDetection (linear, one-hot) cannot see broken interactions: why we add boosting.
    assert value(ind, "fidelity.logistic_detection") > 0.9
    worst = rec["worst_pairs"][0]
    assert {worst["column_1"], worst["column_2"]} == {"education", "education-num"}
    assert worst["real"] == pytest.approx(1.0) and worst["synthetic"] < 0.3
    names = {frozenset((p["column_1"], p["column_2"])) for p in rec["worst_pairs"]}
    assert frozenset(("relationship", "sex")) in names


def test_faker_breaks_validity_and_tails(scored):
    rows, rec, _ = scored["faker"]
    ident, _, _ = scored["identity"]
    # uniform over the public education domain and over 1..16: the dependency breaks
    assert value(rows, "fidelity.validity_constraints") < 0.2
    assert rec["validity"]["by_constraint"][ADULT_FD] > 0.8 * rec["validity"]["n_rows"]
    assert value(rows, "fidelity.validity_bounds") == 1.0  # it does respect public bounds
    assert value(rows, "tails.tail_mass_ratio") < 0.2  # uniform values inflate every tail
    assert max(rec["tail_mass_ratio"]["raw_by_column"].values()) > 5
    assert value(rows, "tails.prdc_precision") < 0.2 < value(ident, "tails.prdc_precision")
    assert value(rows, "tails.prdc_density") < 0.1
    assert value(rows, "fidelity.detection_auc") > 0.99


def test_generator_trained_without_a_rare_category_loses_it_by_name(adult_small, splits):
    train = splits.train
    counts = train["native-country"].value_counts()
    rare = counts[(counts >= 6) & (counts / len(train) < 0.01)]
    victim = str(rare.index[0])
    gen = make_generator("independent", random_state=0).fit(
        train[train["native-country"] != victim], adult_small.schema
    )
    table = check_output(gen.sample(len(train)), len(train), adult_small.schema, "independent")
    ctx = EvalContext(dataset=adult_small, splits=splits, synthetic=table, seed=0)
    rows, errors, _ = evaluate(ctx, {"tails": {"prdc": {"enabled": False}, "n_bootstrap": 20}})
    assert errors == {}
    lost = ctx.run_record()["lost_rare_categories"]
    assert {"column": "native-country", "category": victim, "real_count": int(counts[victim])} in lost
    frame = pd.DataFrame(rows)
    assert value(frame, "tails.rare_category_retention", "count_6-20") < 1.0


def test_rows_carry_directions_and_record_is_json(scored):
    rows, rec, _ = scored["independent"]
    expect = {
        "fidelity.detection_auc": "minimize",
        "fidelity.logistic_detection": "maximize",
        "fidelity.association_distance": "minimize",
        "fidelity.validity": "maximize",
        "tails.rare_category_retention": "maximize",
        "tails.tail_mass_ratio": "maximize",
        "tails.prdc_precision": "maximize",
        "tails.prdc_recall": "maximize",
        "tails.prdc_density": "maximize",
        "tails.prdc_coverage": "maximize",
        "fidelity.segment_frequency_ratio": "maximize",
    }
    for name, direction in expect.items():
        assert set(rows.loc[rows["metric"] == name, "direction"]) == {direction}, name
    assert {"count_1", "count_2-5", "count_6-20"} <= set(
        rows.loc[rows["metric"] == "tails.rare_category_retention", "subgroup"]
    )
    assert "foreign_high_income" in set(rows["subgroup"])
    # intervals: present and around the value for the bootstrapped families
    for name in (
        "fidelity.column_shapes",
        "fidelity.detection_auc",
        "fidelity.association_distance",
        "fidelity.validity",
        "tails.tail_mass_ratio",
        "tails.prdc_coverage",
    ):
        r = rows[(rows["metric"] == name) & (rows["subgroup"] == "all")].iloc[0]
        assert r["ci_low"] <= r["value"] <= r["ci_high"], name
    assert {
        "worst_pairs",
        "lost_rare_categories",
        "validity",
        "tail_mass_ratio",
        "segments",
        "detection",
        "worst_columns",
    } <= set(rec)
    json.dumps(rec)  # plain JSON types only


def test_run_record_and_rows_hold_no_real_record(scored, splits, tmp_path):
    from bench.hygiene import find_real_rows

    rows, rec, _ = scored["identity"]  # identity's "synthetic" rows are training rows
    (tmp_path / "run.json").write_text(json.dumps(rec, indent=1))
    (tmp_path / "metrics.csv").write_text(rows.to_csv(index=False))
    assert find_real_rows(tmp_path, splits.train) == []


def test_comparison_table_shows_the_new_columns_with_directions(scored, tmp_path):
    from bench.results import aggregate, write_run

    for i, name in enumerate(("identity", "independent")):
        rows, rec, _ = scored[name]
        record = {
            "run_id": f"r{i}",
            "dataset": "adult",
            "generator": name,
            "epsilon": None,
            "seed": 0,
            "status": "ok",
            **rec,
        }
        write_run(tmp_path / str(i), record, rows.to_dict("records"))
    table = aggregate(tmp_path, quiet=True)
    cols = set(table.columns)
    assert {"detect AUC ↓", "assoc dist ↓", "validity ↑", "rare kept ↑", "tail mass ↑"} <= cols
    on_disk = json.loads((tmp_path / "1" / "run.json").read_text())
    assert on_disk["worst_pairs"][0]["column_1"] == "education"


# ------------------------------------------------------------------ definitions
def test_logistic_detection_equals_sdmetrics(adult_small, splits, syn):
    from sdmetrics.single_table import LogisticDetection

    md = adult_small.schema.to_sdv_metadata().to_dict()["tables"]["adult"]
    small = adult_small.splits().train
    # a Gaussian copula table gives a score strictly inside (0, 1)
    gc = make_generator("gaussian_copula", random_state=0).fit(small, adult_small.schema).sample(1500)
    gc = check_output(gc, 1500, adult_small.schema, "gaussian_copula")
    for table in (gc, syn["independent"]):
        for seed in (0, 7):
            np.random.seed(seed)  # sdmetrics shuffles its folds with NumPy's global RNG
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = LogisticDetection.compute(splits.train, table, md)
            assert logistic_detection(splits.train, table, adult_small.schema, seed=seed) == pytest.approx(
                theirs, abs=1e-9
            )
    assert 0.05 < logistic_detection(splits.train, gc, adult_small.schema) < 0.95


def test_association_matrix_matches_direct_definitions(fair):
    tr = fair.splits().train
    sch = fair.schema
    m = association_matrix(tr, sch)
    assert m.loc["age", "yrs_married"] == pytest.approx(tr["age"].corr(tr["yrs_married"]), abs=1e-12)
    v = association(pd.crosstab(tr["educ"], tr["occupation"]).to_numpy(), method="cramer")
    assert m.loc["educ", "occupation"] == pytest.approx(v, abs=1e-12)
    g = tr.groupby("religious")["age"]
    eta2 = (g.size() * (g.mean() - tr["age"].mean()) ** 2).sum() / ((tr["age"] - tr["age"].mean()) ** 2).sum()
    assert m.loc["religious", "age"] == pytest.approx(np.sqrt(eta2), abs=1e-12)
    assert np.allclose(m.to_numpy(), m.to_numpy().T, equal_nan=True)
    prof = RealProfile.from_frame(tr, sch)
    pd.testing.assert_frame_equal(association_matrix(prof), m)


def test_association_distance_is_frobenius_of_the_difference(adult_small, splits, syn):
    prof = RealProfile.from_frame(splits.train, adult_small.schema)
    res = association_distance(prof, syn["independent"])
    a = association_matrix(prof).to_numpy()
    b = association_matrix(syn["independent"], adult_small.schema).to_numpy()
    assert res["distance"] == pytest.approx(np.sqrt(np.nansum((a - b) ** 2)), rel=1e-12)
    assert res["pairs"]["abs_diff"].is_monotonic_decreasing


def test_prdc_matches_the_reference_formulas(fair):
    """Naeem et al.'s reference computation (full distance matrices, argpartition)."""
    from sklearn.metrics import pairwise_distances

    tr = fair.splits().train
    real, fake = tr.iloc[:400], tr.iloc[400:750].assign(age=lambda d: d["age"] + 2.5)
    k = 5
    res = prdc(real, fake, fair.schema, k=k, max_rows=None)
    xr, xf = prdc_features(real, fake, fair.schema)

    def radii(x):
        d = pairwise_distances(x, x)
        return np.take_along_axis(d, np.argpartition(d, k + 1, axis=-1)[..., : k + 1], axis=-1).max(axis=-1)

    rr, rf, d = radii(xr), radii(xf), pairwise_distances(xr, xf)
    assert res["precision"] == pytest.approx((d < rr[:, None]).any(axis=0).mean())
    assert res["recall"] == pytest.approx((d < rf[None, :]).any(axis=1).mean())
    assert res["density"] == pytest.approx((1 / k) * (d < rr[:, None]).sum(axis=0).mean())
    assert res["coverage"] == pytest.approx((d.min(axis=1) < rr).mean())
    assert 0 < res["precision"] < 1 and 0 < res["coverage"] < 1


def test_tail_mass_ratio_is_one_for_real_and_zero_for_clipped_tails(adult_small, splits):
    tr, sch = splits.train, adult_small.schema
    assert all(v == pytest.approx(1.0) for v in tail_mass_ratio(tr, tr, sch).values())
    clipped = tr.copy()
    for col in sch.numerical:
        lo, hi = np.quantile(tr[col], [0.01, 0.99])
        clipped[col] = tr[col].clip(lo, hi)
    r = tail_mass_ratio(tr, clipped, sch)
    assert r and all(v == 0 for v in r.values())


def test_validity_counts_planted_violations(adult_small, splits):
    tr, sch = splits.train, adult_small.schema
    bad = tr.head(100).copy()
    bad.loc[bad.index[0], "age"] = 5  # below the public bound 17 and "age >= 17"
    bad.loc[bad.index[1], "workclass"] = "Astronaut"
    bad["hours-per-week"] = bad["hours-per-week"].astype(float)
    bad.loc[bad.index[2], "hours-per-week"] = 40.5  # not an integer
    bad.loc[bad.index[3], "education-num"] = (bad.loc[bad.index[3], "education-num"] % 16) + 1
    res = validity(bad, sch, real=tr, extra_constraints=[ADULT_FD])
    assert res["n_rows"] == 100 and res["n_valid"] == 96
    assert res["by_column"]["age"]["out_of_bounds"] == 1
    assert res["by_column"]["workclass"]["out_of_domain"] == 1
    assert res["by_column"]["hours-per-week"]["wrong_kind"] == 1
    assert res["by_constraint"] == {"age >= 17": 1, "capital-gain >= 0": 0, ADULT_FD: 1}
    assert res["bounds"] == res["domain"] == res["kinds"] == 0.99 and res["constraints"] == 0.98
    assert validity(tr, sch, real=tr, extra_constraints=[ADULT_FD])["validity"] == 1.0


def test_constraints_accept_bare_hyphenated_names_and_name_bad_ones(adult_small, splits):
    tr, sch = splits.train, adult_small.schema
    assert (
        quote_columns("capital-gain >= 0 and `capital-loss` >= 0", list(sch.columns))
        == "`capital-gain` >= 0 and `capital-loss` >= 0"
    )
    assert constraint_mask(tr, "capital-gain >= 0", sch).all()
    with pytest.raises(ConfigError, match="no_such_column"):
        constraint_mask(tr, "no_such_column > 1", sch)
    with pytest.raises(ConfigError, match="nope"):
        constraint_mask(tr, "education -> nope", sch, real=tr)


def test_segment_lost_entirely_scores_zero(adult_small, splits):
    table = splits.train.copy()
    table.loc[table["native-country"] != "United-States", "native-country"] = "United-States"
    ctx = EvalContext(dataset=adult_small, splits=splits, synthetic=table, seed=0)
    rows, errors, _ = evaluate(ctx, {"segments": {"n_bootstrap": 10}})
    assert errors == {}
    frame = pd.DataFrame(rows)
    assert value(frame, "fidelity.segment_frequency_ratio", "foreign_high_income") == 0.0
    seg = ctx.run_record()["segments"]["foreign_high_income"]
    assert seg["synthetic_rows"] == 0 and seg["real_rows"] > 0
    # TRTR on the segment's holdout rows is still measured
    assert 0 < value(frame, "utility.trtr_accuracy", "foreign_high_income") <= 1


def test_fidelity_intervals_wrap_the_sdmetrics_values(adult_small, splits, syn):
    ctx = EvalContext(dataset=adult_small, splits=splits, synthetic=syn["independent"], seed=0)
    rows, errors, _ = evaluate(ctx, {"fidelity": {"n_bootstrap": 10}})
    frame = pd.DataFrame(rows)
    q = quality_scores(splits.train, syn["independent"], adult_small.schema)
    assert value(frame, "fidelity.quality_score") == pytest.approx(q["quality_score"], abs=1e-12)
    r = frame[frame["metric"] == "fidelity.column_shapes"].iloc[0]
    assert r["ci_low"] < r["value"] < r["ci_high"]


def test_auc_from_scores_equals_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.normal(size=500) + y, 1)  # with ties
    assert auc_from_scores(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_dataset_without_segments_runs_every_family(fair):
    sp = fair.splits()
    ctx = EvalContext(dataset=fair, splits=sp, synthetic=sp.train, seed=0)
    rows, errors, _ = evaluate(ctx, _settings())
    assert errors == {}
    frame = pd.DataFrame(rows)
    assert "fidelity.segment_frequency_ratio" not in set(frame["metric"])
    assert value(frame, "fidelity.validity") == 1.0  # fair's constraint yrs_married <= age holds


def test_cramers_v_equals_scipy_on_adult_pairs(adult_small):
    from bench.metrics.shapes import _cramers_v_table

    tr = adult_small.splits().train
    cats = adult_small.schema.categorical
    for a, b in [(cats[0], cats[1]), ("relationship", "sex"), ("native-country", "race"), ("sex", "income")]:
        t = pd.crosstab(tr[a].fillna("NA"), tr[b].fillna("NA")).to_numpy()
        assert _cramers_v_table(t) == pytest.approx(association(t, method="cramer"), abs=1e-12)
