"""Privacy attacks on real data: membership inference, outliers, distance diagnostics, anonymeter.

Tolerance for "no leak" (independent, faker): under no membership signal the
AUC of n members against n non-members has the Mann-Whitney null standard
error sqrt((2n + 1) / (12 n^2)) (Hanley & McNeil 1982); on Adult capped at
4,000 rows n = 800, so SE = 0.0144. We allow 4 SE (0.058): over the 6
(generator, attack) checks the chance of a false failure is below 1e-3, while
a leak of AUC 0.56 or more still fails.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.neighbors import NearestNeighbors

import attacks.run as attack_run
from attacks import anonymeter as anon
from attacks.distance import TableEncoder, closest_record_share, exact_matches, gower_knn, knn
from attacks.membership import DEFAULT_ATTACKS, attack_scores, auc_standard_error, membership_inference, tpr_at_fpr
from attacks.settings import settings as attack_settings
from attacks.targets import fit_outliers
from bench.errors import ConfigError
from bench.generators import check_output, make_generator
from bench.metrics.context import EvalContext
from bench.metrics.families import score as evaluate

CONF = Path(__file__).resolve().parent.parent / "conf"


def synth(ds, splits, gen) -> pd.DataFrame:
    n = len(splits.train)
    g = gen if not isinstance(gen, str) else make_generator(gen, random_state=0)
    return check_output(g.fit(splits.train, ds.schema).sample(n), n, ds.schema, type(g).__name__)


@pytest.fixture(scope="session")
def adult_parts(adult_small):
    """Adult capped at 4,000 rows: splits, reference encoder, outlier model, synthetic tables."""
    s = adult_small.splits()
    enc = TableEncoder(adult_small.schema).fit(s.reference)
    om = fit_outliers(s.train, adult_small.schema, encoder=enc)
    syn = {
        name: synth(adult_small, s, g)
        for name, g in [
            ("identity", "identity"),
            ("independent", "independent"),
            ("faker", "faker"),
            ("noisy", "noisy_identity"),
        ]
    }
    return s, enc, om, syn


@pytest.fixture(scope="session")
def adult_mia(adult_small, adult_parts):
    s, enc, om, syn = adult_parts
    return {
        name: membership_inference(
            train=s.train,
            holdout=s.holdout,
            reference=s.reference,
            synthetic=table,
            schema=adult_small.schema,
            outliers=om,
            encoder=enc,
            seed=0,
        )
        for name, table in syn.items()
    }


# ----------------------------------------------------------------- distances
@pytest.mark.parametrize("dataset", ["fair", "adult_small"])
@pytest.mark.parametrize("generator", ["identity", "independent"])
def test_gower_distance_equals_sdmetrics_dcr(dataset, generator, request):
    """gower_knn is SDMetrics' calculate_dcr (distance to the closest record) on the same rows."""
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    ds = request.getfixturevalue(dataset)
    s = ds.splits()
    sy = synth(ds, s, generator).iloc[:300]
    ours = gower_knn(sy, s.train.iloc[:400], ds.schema, k=1)[:, 0]
    theirs = calculate_dcr(
        sy.reset_index(drop=True),
        s.train.iloc[:400].reset_index(drop=True),
        ds.schema.to_sdv_metadata().to_dict()["tables"][ds.name],
    )
    np.testing.assert_allclose(ours, theirs.to_numpy(), atol=1e-12)


def test_gower_knn_chunks_agree_and_sorted(fair):
    s = fair.splits()
    one = gower_knn(s.holdout.iloc[:200], s.train, fair.schema, k=3)
    small = gower_knn(s.holdout.iloc[:200], s.train, fair.schema, k=3, max_block=5000)
    np.testing.assert_array_equal(one, small)
    assert (np.diff(one, axis=1) >= 0).all() and one.min() >= 0 and one.max() <= 1


def test_knn_chunked_equals_sklearn_and_leave_one_out(fair):
    """Chunked brute-force kNN equals one sklearn call; leave-one-out drops only the row itself."""
    s = fair.splits()
    X = TableEncoder(fair.schema).fit(s.reference).transform(s.train)
    d, i = knn(X[:700], X, k=4, chunk_size=64)
    d2, _ = NearestNeighbors(n_neighbors=4, algorithm="brute").fit(X).kneighbors(X[:700])
    np.testing.assert_allclose(d, d2, atol=1e-9)
    assert np.allclose(d[:, 0], 0, atol=1e-6)  # every row finds itself
    dl, il = knn(X, X, k=4, exclude_self=True, chunk_size=500)
    assert not (il == np.arange(len(X))[:, None]).any()
    d_full = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(X).kneighbors(X)[0]
    np.testing.assert_allclose(dl, d_full[:, 1:], atol=1e-9)
    # fair has duplicate rows: their leave-one-out distance is 0 (the copy), not the row itself
    dup = pd.util.hash_pandas_object(s.train, index=False).duplicated(keep=False).to_numpy()
    assert dup.any() and np.allclose(dl[dup, 0], 0, atol=1e-6) and (dl[~dup, 0] > 1e-6).all()


def test_encoder_uses_public_bounds_and_handles_missing(adult_small):
    s = adult_small.splits()
    sch = adult_small.schema
    enc = TableEncoder(sch).fit(s.reference)
    lo, span, _ = enc.num_["age"]
    assert (lo, lo + span) == sch.bounds["age"]
    X = enc.transform(s.train)
    assert X.shape == (len(s.train), enc.n_features_) and np.isfinite(X).all()
    assert s.train["workclass"].isna().any()
    j = 0
    for col in enc.columns_:
        if col in enc.num_:
            j += 2
            continue
        block = X[:, j : j + len(enc.cat_[col])]
        # exactly one active slot of weight 1/sqrt(2) per row, missing values included
        assert ((block > 0).sum(axis=1) == 1).all(), col
        assert np.allclose(block.max(axis=1), np.sqrt(0.5)), col
        j += len(enc.cat_[col])
    assert j == enc.n_features_
    # a category outside the fitted domain encodes as all zeros (distance 1/sqrt(2) to any one-hot)
    odd = s.train.iloc[:1].copy()
    odd["race"] = "not-a-race"
    k = enc.columns_.index("race")
    off = sum(2 if c in enc.num_ else len(enc.cat_[c]) for c in enc.columns_[:k])
    assert not enc.transform(odd)[0, off : off + len(enc.cat_["race"])].any()


def test_exact_match_rates_count_every_training_row(fair):
    """identity releases only training rows: exact-match rate vs train 1.0, not diluted by a train sample."""
    s = fair.splits()
    ident = synth(fair, s, "identity")
    em = exact_matches(train=s.train, holdout=s.holdout, synthetic=ident, schema=fair.schema)
    assert em["exact_match_rate_train"] == 1.0
    # fair has duplicate records, so copies also match the holdout, and chance alone matches some rows
    assert 0 < em["exact_match_rate_holdout"] < em["exact_match_rate_train_null"] < 1.0
    assert (
        exact_matches(train=s.holdout, holdout=s.train, synthetic=s.holdout, schema=fair.schema)[
            "exact_match_rate_train"
        ]
        == 1.0
    )
    # a table of non-members (the reference split) matches training rows at its null rate
    ref = exact_matches(train=s.train, holdout=s.holdout, synthetic=s.reference, schema=fair.schema)
    assert abs(ref["exact_match_rate_train"] - ref["exact_match_rate_train_null"]) < 4 * ref["exact_match_null_se"]


def test_dcr_member_share_null_is_one_half_whatever_the_split_sizes(fair):
    """Non-members (the reference split) read 0.5 within 4 null SE although train is 3x the holdout; copies read ~1."""
    s = fair.splits()
    assert len(s.train) == pytest.approx(3 * len(s.holdout), rel=0.01)
    null = closest_record_share(
        train=s.train, holdout=s.holdout, synthetic=s.reference, schema=fair.schema, max_rows=None
    )
    assert abs(null["share"] - 0.5) < 4 * null["null_se"], null
    assert null["ci_low"] < 0.5 < null["ci_high"]
    copies = closest_record_share(
        train=s.train, holdout=s.holdout, synthetic=synth(fair, s, "identity"), schema=fair.schema, max_rows=None
    )
    assert copies["share"] > 0.9 and copies["ci_low"] > 0.5 + 4 * copies["null_se"]
    # the old definition (train subsampled to the holdout's size) put copies at 0.5 + 0.5 * |H| / |T| ~ 0.67:
    # a table of pure copies of a third of train and of nothing else reads ~1 here too
    third = s.train.sample(len(s.holdout), random_state=0)
    part = closest_record_share(train=s.train, holdout=s.holdout, synthetic=third, schema=fair.schema, max_rows=None)
    assert part["share"] > 0.9


def test_dcr_ties_are_split_by_record_count(fair):
    """A synthetic row equal to one member and one non-member counts half to each (then size-normalised)."""
    s = fair.splits()
    sch = fair.schema
    row = s.train.iloc[[0]]
    dup = row.copy()
    dup.index = [10_000_000]
    train = s.train[~s.train.eq(row.iloc[0]).all(axis=1)]
    holdout = s.holdout[~s.holdout.eq(row.iloc[0]).all(axis=1)]
    train, holdout = pd.concat([train, row]), pd.concat([holdout, dup])
    r = closest_record_share(train=train, holdout=holdout, synthetic=row, schema=sch, max_rows=None)
    a, b = 0.5 / len(train), 0.5 / len(holdout)
    assert r["share"] == pytest.approx(a / (a + b), abs=1e-12)


def test_dcr_share_scaling_is_shared_so_one_extreme_record_changes_little(adult_small):
    """One extreme training value used to move faker's share (each sample scaled by its own range)."""
    s = adult_small.splits()
    sch = adult_small.schema
    fake = synth(adult_small, s, "faker")
    base = closest_record_share(train=s.train, holdout=s.holdout, synthetic=fake, schema=sch)
    extreme = s.train.copy()
    extreme.iloc[0, extreme.columns.get_loc("capital-loss")] = 4356.0
    moved = closest_record_share(train=extreme, holdout=s.holdout, synthetic=fake, schema=sch)
    assert abs(moved["share"] - base["share"]) < base["null_se"]
    assert abs(base["share"] - 0.5) < 4 * base["null_se"]


# ----------------------------------------------------------------- ROC maths
def test_tpr_at_fpr_matches_thresholds_and_refuses_unresolvable(adult_mia):
    sc = adult_mia["noisy"].scores
    y, s = sc["member"].to_numpy(), sc["dcr_diff"].to_numpy()
    neg = np.sort(s[~y])[::-1]
    checked = 0
    for k in (8, 40, 80):
        # at FPR exactly k / n_neg the best threshold sits just above the (k+1)-th highest
        # non-member score: TPR = share of members scoring above it (ROC vertical segment top)
        if neg[k] < neg[k - 1] and (neg == neg[k]).sum() == 1:
            assert tpr_at_fpr(y, s, k / len(neg)) == pytest.approx(np.mean(s[y] > neg[k]), abs=1e-12)
            checked += 1
    assert checked >= 2
    vals = [tpr_at_fpr(y, s, a) for a in (0.01, 0.05, 0.1, 0.5)]
    assert vals == sorted(vals)
    assert math.isnan(tpr_at_fpr(y, s, 0.5 / len(neg)))  # finer than one false positive
    assert tpr_at_fpr(np.r_[np.ones(50, bool), np.zeros(50, bool)], np.r_[np.ones(50), np.zeros(50)], 0.1) == 1.0


def test_auc_standard_error_null_is_mann_whitney():
    for n1, n0 in ((800, 800), (50, 900)):
        assert auc_standard_error(0.5, n1, n0) == pytest.approx(math.sqrt((n1 + n0 + 1) / (12 * n1 * n0)), rel=1e-9)


def test_headline_is_chosen_on_held_out_targets(adult_mia):
    """privacy.mia_auc comes from the report half; the attack was chosen on the selection half."""
    for r in adult_mia.values():
        assert r.selection == "held-out" and set(r.scores["half"]) == {"select", "report"}
        rep = r.scores[r.scores["half"] == "report"]
        assert r.headline_summary["all"]["n_members"] == int(rep["member"].sum())
        sel = r.scores[r.scores["half"] == "select"]
        from sklearn.metrics import roc_auc_score

        chosen = max(DEFAULT_ATTACKS, key=lambda a: roc_auc_score(sel["member"], sel[a]))
        assert r.headline == chosen
        assert r.headline_summary["all"]["auc"] == pytest.approx(roc_auc_score(rep["member"], rep[chosen]))
        assert set(r.tpr_attacks) == set(r.fprs)


def test_outlier_gap_has_an_interval(adult_mia):
    g, lo, hi = adult_mia["noisy"].gap()
    assert lo < g < hi and hi - lo > 0.05  # two noisy AUCs: the interval is wide
    g0, lo0, hi0 = adult_mia["faker"].gap()
    assert lo0 < 0 < hi0  # a null generator's gap is indistinguishable from 0


# ------------------------------------------------------------ must-show: MIA
def test_identity_is_caught(adult_mia):
    r = adult_mia["identity"]
    assert r.summary[r.headline]["all"]["auc"] > 0.99
    assert r.summary["dcr"]["all"]["tpr"][0.01] > 0.9


@pytest.mark.parametrize("name", ["independent", "faker"])
def test_independent_and_faker_near_chance(adult_mia, name):
    r = adult_mia[name]
    for attack in DEFAULT_ATTACKS:
        sm = r.summary[attack]["all"]
        tol = 4 * auc_standard_error(0.5, sm["n_members"], sm["n_nonmembers"])
        assert abs(sm["auc"] - 0.5) < tol, (attack, sm["auc"], tol)


def test_overfit_generator_sits_in_between(adult_mia):
    auc = {k: r.summary[r.headline]["all"]["auc"] for k, r in adult_mia.items()}
    n = adult_mia["noisy"].summary["dcr"]["all"]["n_members"]
    tol = 4 * auc_standard_error(0.5, n, n)
    assert auc["independent"] + tol < auc["noisy"] < auc["identity"] - tol, auc


def test_subgroups_and_vulnerable_records_by_index(adult_small, adult_mia):
    r = adult_mia["noisy"]
    assert set(r.summary["dcr"]) == {"all", "outliers", "typical"}
    sz = r.summary["dcr"]
    assert sz["outliers"]["n_members"] + sz["typical"]["n_members"] == sz["all"]["n_members"]
    vul = r.vulnerable(5)
    assert len(vul) == 5 and all(v["row"] in adult_small.frame.index for v in vul)
    assert set(r.scores.columns) == {"member", "outlier_score", "subgroup", "half", *DEFAULT_ATTACKS}


# -------------------------------------------------------- must-show: outliers
def test_planted_outliers_are_outliers_and_most_exposed(adult_small):
    """Unique records planted in training data land in `outliers` and score above typical members."""
    s = adult_small.splits()
    sch = adult_small.schema
    rng = np.random.default_rng(0)
    planted = s.train.sample(5, random_state=0).copy()
    planted.index = [10_000_000 + i for i in range(5)]  # new row ids
    planted["age"] = [90, 88, 17, 89, 18]
    planted["capital-gain"] = [99999, 0, 99999, 0, 99999]
    planted["capital-loss"] = [0, 4356, 0, 4300, 0]
    planted["hours-per-week"] = [99, 1, 98, 2, 99]
    planted["native-country"] = ["Holand-Netherlands", "Hungary", "Laos", "Scotland", "Honduras"]
    planted["workclass"] = ["Without-pay", "Never-worked", "Without-pay", "Never-worked", "Without-pay"]
    planted["fnlwgt"] = rng.integers(1_200_000, 1_490_000, 5)
    train = pd.concat([s.train, sch.coerce(planted)])
    enc = TableEncoder(sch).fit(s.reference)
    om = fit_outliers(train, sch, encoder=enc)
    assert set(planted.index) <= set(om.outliers)
    syn = synth(adult_small, type(s)(train=train, holdout=s.holdout, reference=s.reference), "identity")
    scores = attack_scores(enc.transform(train), enc.transform(syn), enc.transform(s.reference), ["dcr_diff"])
    for attack, sc in scores.items():
        sc = pd.Series(sc, index=train.index)
        typical = sc.loc[om.typical]
        assert (sc.loc[planted.index] > typical.quantile(0.95)).all(), attack


# -------------------------------------------------------- must-show: anonymeter
@pytest.fixture(scope="session")
def adult_anon(adult_small, adult_parts):
    s, _, _, syn = adult_parts
    out = {}
    for name in ("identity", "faker"):
        risks, errors = anon.anonymeter_risks(
            train=s.train,
            holdout=s.holdout,
            synthetic=syn[name],
            schema=adult_small.schema,
            so_n_attacks=300,
            link_n_attacks=300,
            inf_n_attacks=800,
        )
        assert not errors
        out[name] = {r.name: r for r in risks}
    return out


def test_anonymeter_identity_above_the_null_band_faker_inside(adult_anon):
    ident, fake = adult_anon["identity"], adult_anon["faker"]
    for name in ("singling_out.multivariate", "inference.income", "linkability"):
        tol = 4 * max(ident[name].null_se, fake[name].null_se)
        assert ident[name].value > tol, (name, ident[name].value, tol)
        assert fake[name].value <= tol and fake[name].ci_low <= tol, name
    for r in ident.values():
        assert 0 <= r.ci_low <= r.value <= r.ci_high <= 1


def test_anonymeter_sizes_are_equalised(adult_small):
    """ori and control are cut to one size: anonymeter then needs no extrapolation of the control rate."""
    s = adult_small.splits()
    ori, ctl = anon.equal_sizes(s.train, s.holdout, seed=0)
    assert len(ori) == len(ctl) == len(s.holdout) and set(ori.index) <= set(s.train.index)
    assert anon.equal_sizes(s.train, s.holdout, seed=0)[0].index.equals(ori.index)


def test_singling_out_compares_equal_numbers_of_distinct_records(fair, monkeypatch):
    """fair holds duplicate records: the distinct records of ori and control are cut to one size, so anonymeter's
    control-size correction (a fitted extrapolation) never runs."""
    from anonymeter.evaluators import singling_out_evaluator as soe

    def refuse(*a, **k):
        raise AssertionError("anonymeter extrapolated the control rate to another size")

    monkeypatch.setattr(soe, "fit_correction_term", refuse)
    s = fair.splits()
    o, c = anon.prepare(s.train.iloc[:600], fair.schema), anon.prepare(s.holdout.iloc[:600], fair.schema)
    assert len(o.drop_duplicates()) != len(c.drop_duplicates())  # equal rows, unequal distinct records
    syn = anon.prepare(s.train.iloc[:600], fair.schema)
    r = anon.singling_out(o, syn, c, mode="multivariate", n_attacks=50, n_cols=3, max_attempts=2000)
    assert r.n_queries > 0 and r.attack_rate > r.control_rate


def test_singling_out_baseline_is_reproducible_with_the_seed(fair):
    """anonymeter draws baseline predicates from polars' unordered unique values: with the values in order
    of first occurrence the same seed gives the same baseline (four runs read 0.034 to 0.078 before)."""
    s = fair.splits()
    o, c = anon.prepare(s.train.iloc[:600], fair.schema), anon.prepare(s.holdout.iloc[:600], fair.schema)
    syn = anon.prepare(s.reference.iloc[:600], fair.schema)
    runs = [
        anon.singling_out(o, syn, c, mode="multivariate", n_attacks=200, n_cols=3, max_attempts=3000, seed=1)
        for _ in range(4)
    ]
    assert len({r.baseline_rate for r in runs}) == 1 and len({r.attack_rate for r in runs}) == 1


def test_anonymeter_below_baseline_is_flagged(adult_anon):
    for risks in adult_anon.values():
        for r in risks.values():
            assert r.below_baseline == (r.baseline_rate >= r.attack_rate)
            if r.below_baseline:
                assert any("baseline" in w for w in r.warnings)


def test_too_few_singling_out_queries_are_flagged(fair):
    s = fair.splits()
    o, c = anon.prepare(s.train.iloc[:300], fair.schema), anon.prepare(s.holdout.iloc[:300], fair.schema)
    syn = anon.prepare(s.reference.iloc[:300], fair.schema)
    r = anon.singling_out(o, syn, c, mode="multivariate", n_attacks=300, n_cols=2, max_attempts=300)
    assert r.n_queries < 300 and r.few_queries
    assert any("could generate only" in w for w in r.warnings)


def test_linkability_halves_hold_high_cardinality_columns(adult_small):
    s = adult_small.splits()
    sch = adult_small.schema
    a, b, src = anon.linkability_columns(sch, s.reference)
    assert src == "all_columns" and not set(a) & set(b) and sorted(a + b) == sorted(sch.modelled)
    card = {c: s.reference[c].nunique() for c in sch.modelled}
    top = sorted(sch.modelled, key=lambda c: -card[c])[:2]
    assert top[0] in a and top[1] in b  # the two richest columns, one in each half
    qa, qb, qsrc = anon.linkability_columns(sch, s.reference, "quasi_identifiers")
    assert qsrc == "quasi_identifiers" and sorted(qa + qb) == sorted(sch.quasi_identifiers)
    with pytest.raises(ConfigError, match="linkability.columns"):
        anon.linkability_columns(sch, s.reference, "nonsense")


# --------------------------------------------------------------- the family
def default_cfg() -> dict:
    return yaml.safe_load((CONF / "attacks" / "default.yaml").read_text())


def test_default_config_is_valid_and_bad_settings_raise(fair):
    s = attack_settings(default_cfg())
    assert s["membership"]["attacks"] == list(DEFAULT_ATTACKS)
    with pytest.raises(ConfigError, match="attacks.membership.nonsense"):
        attack_settings({"membership": {"nonsense": 1}})
    with pytest.raises(ConfigError, match="shadow"):
        attack_settings({"membership": {"attacks": ["dcr", "shadow"]}})
    with pytest.raises(ConfigError, match="n_targets"):
        attack_settings({"membership": {"n_targets": 3}})
    with pytest.raises(ConfigError, match="quantile"):
        fit_outliers(fair.frame, fair.schema, quantile=1.5)
    with pytest.raises(ConfigError, match="method"):
        fit_outliers(fair.frame, fair.schema, method="lof")


def test_family_on_fair_reports_every_metric_without_record_values(fair):
    """The registered family, as a run calls it: metric rows, subgroups, run record by row index."""
    s = fair.splits()
    syn = synth(fair, s, "identity")
    ctx = EvalContext(dataset=fair, splits=s, synthetic=syn, seed=0)
    cfg = default_cfg()
    cfg["anonymeter"]["singling_out"]["n_attacks"] = 50
    cfg["anonymeter"]["singling_out"]["max_attempts"] = 2000
    rows, errors, _ = evaluate(ctx, {"attacks": cfg})
    assert not errors, errors
    df = pd.DataFrame(rows)
    assert (df["family"] == "privacy").all()
    keys = set(zip(df["metric"], df["subgroup"]))
    for k in (
        "privacy.mia_auc",
        "privacy.mia_tpr_at_fpr_0.001",
        "privacy.mia_tpr_at_fpr_0.01",
        "privacy.mia_tpr_at_fpr_0.1",
    ):
        assert {(k, g) for g in ("all", "outliers", "typical")} <= keys, k
    for k in (
        "privacy.mia_auc_outlier_gap",
        "privacy.dcr_member_share",
        "privacy.exact_match_rate_train",
        "privacy.exact_match_rate_holdout",
        "privacy.singling_out_risk",
        "privacy.linkability_risk",
        "privacy.inference_risk",
        "privacy.inference_risk.affairs",
        "privacy.linkability_risk_below_baseline",
    ):
        assert (k, "all") in keys, k
    assert ("privacy.inference_risk", "outliers") in keys
    head = df[(df["metric"] == "privacy.mia_auc") & (df["subgroup"] == "all")].iloc[0]
    assert head["ci_low"] < head["value"] < head["ci_high"] and head["value"] > 0.8
    gap = df[df["metric"] == "privacy.mia_auc_outlier_gap"].iloc[0]
    by = df[df["metric"] == "privacy.mia_auc"].set_index("subgroup")["value"]
    assert gap["value"] == pytest.approx(by["outliers"] - by["typical"])
    assert gap["ci_low"] < gap["value"] < gap["ci_high"] and gap["direction"] == "none"
    em = df[df["metric"] == "privacy.exact_match_rate_train"].iloc[0]
    assert em["value"] == 1.0 and em["ci_low"] < 1.0
    info = ctx.cache["run_record"]["attacks"]
    json.dumps(info)  # the run record stays JSON-able
    assert all(
        isinstance(v["row"], int) and v["row"] in fair.frame.index for v in info["membership"]["vulnerable_records"]
    )
    assert info["membership"]["n_members"] == info["membership"]["n_nonmembers"] == len(s.holdout)


def test_run_record_holds_no_adult_category_values(adult_small, adult_parts):
    s, _, _, syn = adult_parts
    ctx = EvalContext(dataset=adult_small, splits=s, synthetic=syn["identity"], seed=0)
    cfg = default_cfg()
    cfg["anonymeter"] = {
        "subgroups": ["outliers"],
        "singling_out": {"modes": ["univariate"], "n_attacks": 50},
        "linkability": {"enabled": False},
        "inference": {"n_attacks": 50},
    }
    attack_run.attack_metrics(ctx, cfg)
    text = json.dumps(ctx.cache["run_record"]["attacks"], default=str)
    values = {v for c in adult_small.schema.categorical for v in adult_small.frame[c].dropna().unique()}
    leaked = [v for v in values if len(v) > 3 and v in text]
    assert not leaked, leaked


@pytest.mark.slow
def test_default_set_on_full_adult_identity(adult):
    """The default attack set on an Adult-sized table (29k train rows) runs and catches identity."""
    s = adult.splits()
    ctx = EvalContext(dataset=adult, splits=s, synthetic=synth(adult, s, "identity"), seed=0)
    df = pd.DataFrame(attack_run.attack_metrics(ctx, default_cfg()))
    get = df[df["subgroup"] == "all"].set_index("metric")["value"]
    assert get["privacy.mia_auc"] > 0.99 and get["privacy.singling_out_risk"] > 0.15
    # at 29k rows a half of 7 columns is shared by many records (ties at distance 0), so fewer copies link
    # than on capped Adult (0.25 here, 0.75 at 8,000 rows): still far above the null band
    assert get["privacy.inference_risk"] > 0.3 and get["privacy.linkability_risk"] > 0.15
    assert get["privacy.exact_match_rate_train"] == 1.0 and get["privacy.dcr_member_share"] > 0.9
    assert not ctx.cache["run_record"]["attacks"]["errors"]


def test_linkability_baseline_is_reproducible_with_the_seed(fair):
    """anonymeter's random-guess baseline is drawn from a seeded generator: the same seed, the same baseline
    (and the same 'no better than baseline' mark); another seed, other random links."""
    s = fair.splits()
    o, c = anon.prepare(s.train.iloc[:400], fair.schema), anon.prepare(s.holdout.iloc[:400], fair.schema)
    syn = anon.prepare(s.reference.iloc[:400], fair.schema)
    cols = list(fair.schema.modelled)
    aux = (cols[0::2], cols[1::2])
    runs = [anon.linkability(o, syn, c, aux, n_attacks=300, n_neighbors=10, seed=k) for k in (3, 3, 4)]
    assert runs[0].baseline_rate == runs[1].baseline_rate and runs[0].below_baseline == runs[1].below_baseline
    assert runs[0].attack_rate == runs[1].attack_rate
    assert runs[2].baseline_rate != runs[0].baseline_rate


def test_anonymeter_knn_is_compiled_with_numbas_disk_cache_and_finds_the_same_neighbours(fair):
    """The swapped-in kNN is anonymeter's own function with numba's on-disk cache: same neighbours, same distances."""
    import anonymeter.evaluators  # noqa: F401
    from anonymeter.neighbors import mixed_types_kneighbors as mtk
    from numba.core.caching import FunctionCache

    assert anon._cache_gower_knn() is True
    fast = mtk._nearest_neighbors
    assert isinstance(fast._cache, FunctionCache)  # anonymeter's own dispatcher has a NullCache
    s = fair.splits()
    o, syn = anon.prepare(s.train.iloc[:20], fair.schema), anon.prepare(s.reference.iloc[:200], fair.schema)
    knn_ = mtk.MixedTypeKNeighbors(n_neighbors=5, n_jobs=1).fit(syn)
    dist, idx = knn_.kneighbors(o, return_distance=True)
    ctypes = knn_._ctypes
    cands, queries = mtk.mixed_types_transform(df1=syn, df2=o, num_cols=ctypes["num"], cat_cols=ctypes["cat"])
    cols = ctypes["num"] + ctypes["cat"]
    q, c, n_num = queries[cols].values, cands[cols].values, len(ctypes["num"])
    _, ref_dist = fast.py_func(q, c, n_num, 5)  # pure Python, no numba
    np.testing.assert_allclose(dist, ref_dist, rtol=0, atol=1e-12)  # the same 5 nearest distances per query
    # and each returned neighbour is at its distance (ties may come in another order)
    at = [[mtk.gower_distance.py_func(q[i], c[j], n_num) for j in row] for i, row in enumerate(idx)]
    np.testing.assert_allclose(at, dist, rtol=0, atol=1e-12)
