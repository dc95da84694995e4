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
from attacks.distance import (TableEncoder, dcr_overfitting, distance_diagnostics, equal_size_samples,
                              exact_match_rate, gower_knn, knn)
from attacks.membership import (ATTACKS, attack_scores, auc_standard_error, kde_logpdf, membership_inference,
                                tpr_at_fpr)
from attacks.targets import fit_outliers
from bench.errors import ConfigError
from bench.evaluate import EvalContext, evaluate
from bench.generators.base import BaseGenerator, check_output, make_generator

CONF = Path(__file__).resolve().parent.parent / "conf"


class NoisyIdentity(BaseGenerator):
    """A deliberately overfit generator: real training rows with noise.

    Numerical columns get Gaussian noise of ``noise`` x the column's standard
    deviation (clipped to the public bounds, integers kept integer); each
    categorical value is replaced, with probability ``swap``, by the value of a
    random training row.
    """

    def __init__(self, noise: float = 0.3, swap: float = 0.3, random_state: int | None = None) -> None:
        super().__init__(random_state=random_state)
        self.noise = noise
        self.swap = swap

    def _fit(self, train: pd.DataFrame) -> None:
        self.train_ = train.reset_index(drop=True)

    def _sample(self, n: int) -> pd.DataFrame:
        t = self.train_
        df = t.iloc[self.rng_.choice(len(t), size=n, replace=n > len(t))].reset_index(drop=True).copy()
        for c in self.schema_.numerical:
            x = df[c].to_numpy(float) + self.rng_.normal(0, self.noise * t[c].std(), n)
            lo, hi = self.schema_.bounds.get(c, (t[c].min(), t[c].max()))
            x = np.clip(x, lo, hi)
            df[c] = np.round(x) if pd.api.types.is_integer_dtype(t[c]) else x
        for c in self.schema_.categorical:
            m = self.rng_.random(n) < self.swap
            df.loc[m, c] = t[c].to_numpy()[self.rng_.integers(0, len(t), int(m.sum()))]
        return df


def synth(ds, splits, gen) -> pd.DataFrame:
    n = len(splits.train)
    g = gen if not isinstance(gen, str) else make_generator(gen, random_state=0)
    return check_output(g.fit(splits.train, ds.schema).sample(n), n, ds.schema, type(g).__name__)


@pytest.fixture(scope="module")
def adult_parts(adult_small):
    """Adult capped at 4,000 rows: splits, reference encoder, outlier model, synthetic tables."""
    s = adult_small.splits()
    enc = TableEncoder(adult_small.schema).fit(s.reference)
    om = fit_outliers(s.train, adult_small.schema, encoder=enc)
    syn = {name: synth(adult_small, s, g) for name, g in
           [("identity", "identity"), ("independent", "independent"), ("faker", "faker"),
            ("noisy", NoisyIdentity(random_state=0))]}
    return s, enc, om, syn


@pytest.fixture(scope="module")
def adult_mia(adult_small, adult_parts):
    s, enc, om, syn = adult_parts
    return {name: membership_inference(s.train, s.holdout, s.reference, table, adult_small.schema,
                                       outliers=om, encoder=enc, seed=0)
            for name, table in syn.items()}


# ----------------------------------------------------------------- distances
@pytest.mark.parametrize("dataset", ["fair", "adult_small"])
@pytest.mark.parametrize("generator", ["identity", "independent"])
def test_dcr_share_equals_sdmetrics(dataset, generator, request):
    """privacy.dcr_share_closer_to_train is SDMetrics' DCROverfittingProtection on the same rows."""
    from sdmetrics.single_table import DCROverfittingProtection

    ds = request.getfixturevalue(dataset)
    s = ds.splits()
    tr, ho, sy = equal_size_samples(s.train, s.holdout, synth(ds, s, generator), 300, seed=1)
    ours = dcr_overfitting(tr, ho, sy, ds.schema)
    theirs = DCROverfittingProtection.compute_breakdown(
        tr.reset_index(drop=True), sy.reset_index(drop=True), ho.reset_index(drop=True),
        ds.schema.to_sdv_metadata().to_dict(), ds.name)
    assert ours["share_closer_to_train"] == pytest.approx(
        theirs["synthetic_data_percentages"]["closer_to_training"], abs=1e-12)
    assert ours["score"] == pytest.approx(theirs["score"], abs=1e-12)


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
        block = X[:, j:j + len(enc.cat_[col])]
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
    assert not enc.transform(odd)[0, off:off + len(enc.cat_["race"])].any()


def test_exact_match_rates_separate_copies(fair):
    s = fair.splits()
    ident = synth(fair, s, "identity")
    assert exact_match_rate(ident, s.train, fair.schema) == 1.0
    assert exact_match_rate(s.holdout, s.holdout, fair.schema) == 1.0
    d = distance_diagnostics(s.train, s.holdout, ident, fair.schema, max_rows=None, seed=0)
    assert d["n"] == len(s.holdout)
    # fair has many duplicate records, so the holdout rate is not 0, but copies favour train
    assert d["exact_match_rate_train"] > d["exact_match_rate_holdout"] > 0
    assert d["share_closer_to_train"] > 0.55 and d["nndr_train"] < d["nndr_holdout"]


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


def test_knn_kde_equals_exact_kde(adult_small, adult_parts):
    s, enc, _, syn = adult_parts
    T = enc.transform(s.holdout.iloc[:300])
    S = enc.transform(syn["identity"])
    R = enc.transform(s.reference)
    exact = kde_logpdf(T, S, 0.1) - kde_logpdf(T, R, 0.1)
    approx = attack_scores(T, S, R, ["domias"], bandwidth=0.1, kde_neighbors=64)["domias"]
    np.testing.assert_allclose(approx, exact, rtol=1e-6, atol=1e-4)


# ------------------------------------------------------------ must-show: MIA
def test_identity_is_caught(adult_mia):
    r = adult_mia["identity"]
    assert r.summary[r.headline]["all"]["auc"] > 0.99
    assert r.summary["dcr"]["all"]["tpr"][0.01] > 0.9


@pytest.mark.parametrize("name", ["independent", "faker"])
def test_independent_and_faker_near_chance(adult_mia, name):
    r = adult_mia[name]
    for attack in ATTACKS:
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
    assert set(r.scores.columns) == {"member", "outlier_score", "subgroup", *ATTACKS}


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
    scores = attack_scores(enc.transform(train), enc.transform(syn), enc.transform(s.reference),
                           ["dcr_diff", "domias"])
    for attack, sc in scores.items():
        sc = pd.Series(sc, index=train.index)
        typical = sc.loc[om.typical]
        assert (sc.loc[planted.index] > typical.quantile(0.95)).all(), attack


# -------------------------------------------------------- must-show: anonymeter
@pytest.fixture(scope="module")
def adult_anon(adult_small, adult_parts):
    s, _, _, syn = adult_parts
    out = {}
    for name in ("identity", "faker"):
        risks, errors = anon.anonymeter_risks(s.train, syn[name], s.holdout, adult_small.schema,
                                              so_n_attacks=100, link_n_attacks=100, inf_n_attacks=150)
        assert not errors
        out[name] = {r.name: r for r in risks}
    return out


def test_anonymeter_identity_high_risk_faker_low(adult_anon):
    ident, fake = adult_anon["identity"], adult_anon["faker"]
    assert ident["singling_out.multivariate"].value > 0.5
    assert ident["inference.income"].value > 0.3
    for name in ("singling_out.multivariate", "inference.income", "inference.capital-gain", "linkability"):
        assert fake[name].ci_low < 0.1, name
        assert ident[name].attack_rate >= fake[name].attack_rate, name
    for r in ident.values():
        assert 0 <= r.ci_low <= r.value <= r.ci_high <= 1


def test_anonymeter_below_baseline_is_flagged(adult_anon):
    for risks in adult_anon.values():
        for r in risks.values():
            assert r.below_baseline == (r.baseline_rate >= r.attack_rate)
            if r.below_baseline:
                assert any("baseline" in w for w in r.warnings)


def test_linkability_columns_split_quasi_identifiers(adult_small):
    a, b, src = anon.linkability_columns(adult_small.schema)
    assert src == "quasi_identifiers" and not set(a) & set(b)
    assert sorted(a + b) == sorted(adult_small.schema.quasi_identifiers)


# --------------------------------------------------------------- the family
def default_cfg() -> dict:
    return yaml.safe_load((CONF / "attacks" / "default.yaml").read_text())


def test_default_config_is_valid_and_bad_settings_raise(fair):
    s = attack_run.settings(default_cfg())
    assert s["membership"]["attacks"] == list(ATTACKS)
    with pytest.raises(ConfigError, match="attacks.membership.nonsense"):
        attack_run.settings({"membership": {"nonsense": 1}})
    with pytest.raises(ConfigError, match="shadow"):
        attack_run.settings({"membership": {"attacks": ["dcr", "shadow"]}})
    with pytest.raises(ConfigError, match="n_targets"):
        attack_run.settings({"membership": {"n_targets": 3}})
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
    for k in ("privacy.mia_auc", "privacy.mia_tpr_at_fpr_0.001", "privacy.mia_tpr_at_fpr_0.01",
              "privacy.mia_tpr_at_fpr_0.1"):
        assert {(k, g) for g in ("all", "outliers", "typical")} <= keys, k
    for k in ("privacy.mia_auc_outlier_gap", "privacy.dcr_share_closer_to_train", "privacy.nndr",
              "privacy.exact_match_rate_train", "privacy.exact_match_rate_holdout",
              "privacy.singling_out_risk", "privacy.linkability_risk", "privacy.inference_risk",
              "privacy.inference_risk.affairs", "privacy.linkability_risk_below_baseline"):
        assert (k, "all") in keys, k
    assert ("privacy.inference_risk", "outliers") in keys
    head = df[(df["metric"] == "privacy.mia_auc") & (df["subgroup"] == "all")].iloc[0]
    assert head["ci_low"] < head["value"] < head["ci_high"] and head["value"] > 0.8
    gap = df[df["metric"] == "privacy.mia_auc_outlier_gap"]["value"].iloc[0]
    by = df[df["metric"] == "privacy.mia_auc"].set_index("subgroup")["value"]
    assert gap == pytest.approx(by["outliers"] - by["typical"])
    info = ctx.cache["run_record"]["attacks"]
    json.dumps(info)  # the run record stays JSON-able
    assert all(isinstance(v["row"], int) and v["row"] in fair.frame.index
               for v in info["membership"]["vulnerable_records"])
    assert info["membership"]["n_members"] == info["membership"]["n_nonmembers"] == len(s.holdout)


def test_run_record_holds_no_adult_category_values(adult_small, adult_parts):
    s, _, _, syn = adult_parts
    ctx = EvalContext(dataset=adult_small, splits=s, synthetic=syn["identity"], seed=0)
    cfg = default_cfg()
    cfg["anonymeter"] = {"subgroups": ["outliers"], "singling_out": {"modes": ["univariate"], "n_attacks": 50},
                         "linkability": {"enabled": False}, "inference": {"n_attacks": 50}}
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
    assert get["privacy.mia_auc"] > 0.99 and get["privacy.singling_out_risk"] > 0.5
    assert get["privacy.inference_risk"] > 0.3
    assert not ctx.cache["run_record"]["attacks"]["errors"]
