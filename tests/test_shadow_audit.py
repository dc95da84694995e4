"""Shadow-model MIA, the empirical epsilon audit and the dp_marginals generator.

Fast tests use the embedded ``fair`` table with small shadow training sets
(200 rows) and generators that fit in milliseconds (dp_marginals, identity,
and a planted dishonest generator); the Adult and DP-SGD checks are slow.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import binom

from attacks import bounds as A
from attacks.audit import audit_metrics
from attacks.distance import TableEncoder
from attacks.settings import audit_settings
from attacks.shadow import ShadowFeaturizer, ThreatModel, background_size, select_targets, shadow_attack
from bench.errors import ConfigError, SchemaError
from bench.generators import make_generator
from bench.generators.laplace import DPMarginalsGenerator
from bench.metrics.context import EvalContext
from bench.run.cache import Cache

ROOT = Path(__file__).resolve().parent.parent

# Small games: 200-row shadow training sets drawn from fair's 1,273 reference rows.
SMALL = {
    "enabled": True,
    "n_train": 200,
    "n_outliers": 2,
    "n_random": 2,
    "games": {"train": 40, "val": 30, "test": 100},
}


class LeakyMarginals(DPMarginalsGenerator):
    """Planted dishonest generator: reports dp_marginals' epsilon, but a share ``leak``
    of its synthetic rows are copies of training rows."""

    name = "leaky_marginals"

    def __init__(
        self,
        epsilon: float = 1.0,
        leak: float = 0.5,
        n_bins: int = 10,
        bounds_epsilon_fraction: float = 0.05,
        bounds_quantiles=(0.01, 0.99),
        secure_mode: bool = False,
        tuned_on: str = "none",
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            n_bins=n_bins,
            bounds_epsilon_fraction=bounds_epsilon_fraction,
            bounds_quantiles=bounds_quantiles,
            secure_mode=secure_mode,
            tuned_on=tuned_on,
            random_state=random_state,
        )
        self.leak = leak

    def _fit(self, train: pd.DataFrame) -> None:
        super()._fit(train)
        self.train_ = train.reset_index(drop=True)

    def _sample(self, n: int) -> pd.DataFrame:
        out = super()._sample(n)
        k = min(int(round(self.leak * n)), len(self.train_))
        copied = self.train_.iloc[self.rng_.choice(len(self.train_), size=k, replace=False)]
        return pd.concat([copied[out.columns], out.iloc[k:]], ignore_index=True)


class ClaimingIdentity(DPMarginalsGenerator):
    """Planted dishonest generator: releases the training rows while claiming dp_marginals' epsilon."""

    name = "claiming_identity"

    def _fit(self, train: pd.DataFrame) -> None:
        super()._fit(train)
        self.train_ = train.reset_index(drop=True)

    def _sample(self, n: int) -> pd.DataFrame:
        return self.train_.iloc[self.rng_.choice(len(self.train_), size=n, replace=n > len(self.train_))]


def _ctx(dataset, factory, seed=0):
    s = dataset.splits()
    return EvalContext(dataset=dataset, splits=s, synthetic=s.train, seed=seed, generator_factory=factory)


# ------------------------------------------------------------ the audit formula
def _cp_upper_by_root(k: int, n: int, a: float) -> float:
    """Clopper-Pearson upper bound from its definition: P[Bin(n, p) <= k] = a."""
    return brentq(lambda p: binom.cdf(k, n, p) - a, 1e-12, 1 - 1e-12)


def test_clopper_pearson_upper_matches_its_definition():
    # k = 0 has the closed form 1 - a^(1/n): n = 100, a = 0.025 -> 0.036217 (hand-computed)
    assert A.clopper_pearson_upper(0, 100, 0.025) == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-9)
    assert A.clopper_pearson_upper(0, 100, 0.025) == pytest.approx(0.036217, abs=1e-6)
    assert A.clopper_pearson_upper(7, 7, 0.025) == 1.0
    for k, n in ((1, 10), (5, 50), (10, 50), (37, 40)):
        assert A.clopper_pearson_upper(k, n, 0.025) == pytest.approx(_cp_upper_by_root(k, n, 0.025), rel=1e-7)
    with pytest.raises(ValueError):
        A.clopper_pearson_upper(3, 2, 0.05)
    with pytest.raises(ValueError):
        A.clopper_pearson_upper(0, 0, 0.05)


def test_epsilon_lower_bound_against_hand_computed_values():
    # Perfect test, 100 games per world, pure DP: u = 1 - 0.025^(1/100) = 0.0362166,
    # eps_lb = ln((1 - u) / u) = ln(26.611) = 3.2814.
    b = A.epsilon_lower_bound(0, 100, 0, 100, delta=0.0, alpha=0.05)
    assert b.fpr_hi == pytest.approx(0.0362166, abs=1e-6) and b.fnr_hi == b.fpr_hi
    assert b.eps_lb == pytest.approx(3.2814, abs=1e-3)
    assert b.eps_point == math.inf
    # delta is subtracted in the numerator: ln((1 - 0.01 - u) / u) = ln(26.335) = 3.2710.
    assert A.epsilon_lower_bound(0, 100, 0, 100, delta=0.01).eps_lb == pytest.approx(3.2710, abs=1e-3)
    # 5/50 false positives, 10/50 false negatives: the bound from the binomial definition.
    f, g = _cp_upper_by_root(5, 50, 0.025), _cp_upper_by_root(10, 50, 0.025)
    want = max(0.0, math.log((1 - f) / g), math.log((1 - g) / f))
    b = A.epsilon_lower_bound(5, 50, 10, 50)
    assert b.eps_lb == pytest.approx(want, rel=1e-6)
    assert b.eps_lb == pytest.approx(math.log((1 - g) / f), rel=1e-6)  # the second term wins here
    assert b.eps_point == pytest.approx(math.log(0.8 / 0.1), rel=1e-9)  # raw rates: ln((1 - 0.2) / 0.1)
    # A coin-flip test proves nothing.
    assert A.epsilon_lower_bound(25, 50, 25, 50).eps_lb == 0.0
    with pytest.raises(ValueError, match="delta"):
        A.epsilon_lower_bound(0, 10, 0, 10, delta=1.0)


@pytest.mark.parametrize("n", [25, 50, 100, 1000])
def test_resolution_limit_is_about_ln_n_over_3_7(n):
    lim = A.resolution_limit(n)
    assert lim == pytest.approx(math.log(n / 3.7), abs=0.12)
    # no outcome of n games per world can give more
    assert A.epsilon_lower_bound(0, n, 0, n).eps_lb == pytest.approx(lim)
    assert A.epsilon_lower_bound(1, n, 0, n).eps_lb < lim


def test_threshold_target_and_statistic_are_chosen_on_validation_games_only():
    rng = np.random.default_rng(0)
    G = 200
    parts = np.array(["val"] * 100 + ["test"] * 100)
    y = np.tile([0, 1], G // 2)
    # target "a": perfect on validation, a coin flip on test; "b": decent on both.
    a = np.where(parts == "val", y + 0.1 * rng.random(G), rng.random(G))
    b = y * 0.6 + rng.random(G)
    res = A.audit({("a", "s"): a, ("b", "s"): b}, {"a": y, "b": y}, parts, claimed_epsilon=1.0)
    assert res.target == "a" and res.val_eps_lb > 2.5
    # the reported bound comes from a's test games: near zero, although b would have given more
    assert res.eps_lb < 0.5 and not res.flagged
    assert max(r["test_eps_lb"] for r in res.per_target if r["target"] == "b") > res.eps_lb
    # the validation threshold separates a's validation scores in the middle of the gap
    assert 0.1 < res.threshold < 1.0
    assert res.resolution == pytest.approx(A.resolution_limit(50))


def test_best_threshold_sits_between_the_worlds():
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    thr, adv = A.best_threshold(s, y, objective="advantage")
    assert adv == 1.0 and thr == pytest.approx(0.5)
    thr, eps = A.best_threshold(s, y, objective="epsilon")
    assert thr == pytest.approx(0.5) and eps == pytest.approx(A.resolution_limit(3))
    with pytest.raises(ValueError, match="both worlds"):
        A.best_threshold(s, np.ones(6, int))


# ------------------------------------------------------------ dp_marginals
def test_dp_marginals_claim_covers_everything(fair):
    train = fair.splits().train
    g = DPMarginalsGenerator(epsilon=1.0, random_state=0).fit(train, fair.schema)
    ps = g.privacy_spent()
    assert ps.epsilon == 1.0 and ps.delta == 0.0 and ps.full_scope and ps.outside == []
    assert ps.neighbouring == "replace-one" and ps.seeded
    d = len(fair.schema.modelled)
    # fair's numerical bounds are DP releases on 5 % of epsilon; replace-one: scale 2d / epsilon_hist
    assert g.bounds_epsilon_ == pytest.approx(0.05) and g.hist_epsilon_ == pytest.approx(0.95)
    assert g.noise_scale_ == pytest.approx(2 * d / 0.95)
    assert any("sequential-over-columns" in s for s in ps.scope)
    assert any(s.startswith("bounds:exponential-mechanism") for s in ps.scope)
    inf = DPMarginalsGenerator(epsilon=math.inf, random_state=0).fit(train, fair.schema)
    assert inf.privacy_spent().epsilon == math.inf and inf.privacy_spent().accountant == "none"


def laplace_variance_ratio(fits, exact, n: int, scale: float) -> tuple[float, int]:
    """Observed noise variance over the claimed Laplace variance 2b^2, and its degrees of freedom.

    For each histogram, the slots far from 0 (count > 5b, where clipping never bites) satisfy
    ``p_i = (c_i + e_i) / T`` with one unknown total ``T``; ``T`` is fitted by least squares and
    the residuals ``p_i T - c_i`` keep ``k - 1`` degrees of freedom of the noise ``e_i``.
    """
    ss, dof = 0.0, 0
    for g in fits:
        for p, q in zip(g.probs_, exact.probs_):
            c = q * n
            big = c > 5 * scale
            if big.sum() < 2:
                continue
            total = (p[big] * c[big]).sum() / (p[big] ** 2).sum()
            ss += float(((p[big] * total - c[big]) ** 2).sum())
            dof += int(big.sum()) - 1
    return ss / (2 * scale**2 * dof), dof


def test_dp_marginals_noise_has_the_laplace_scale(fair):
    """The released histograms carry Laplace(2d/epsilon_hist) noise: the observed variance over the
    claimed one is 1 within 4 standard errors (Var(e^2) = 20 b^4 for Laplace, so SE = sqrt(5/dof)).
    Half the noise reads 0.25 and double reads 4: both fail."""
    train = fair.splits().train
    n = len(train)
    # public bounds (fair's exact ones at inf) so that both fits share their slots
    schema = replace(
        fair.schema,
        bounds={"age": (17.5, 42), "yrs_married": (0.5, 23), "children": (0, 5.5), "affairs": (0, 60)},
        dp_bounds={},
        bounds_source={},
    )
    exact = DPMarginalsGenerator(epsilon=math.inf, random_state=0).fit(train, schema)
    for eps, seeds in ((1.0, 10), (0.1, 40)):
        scale = 2 * len(schema.modelled) / eps
        fits = [DPMarginalsGenerator(epsilon=eps, random_state=s).fit(train, schema) for s in range(seeds)]
        assert all(g.noise_scale_ == pytest.approx(scale) for g in fits)
        ratio, dof = laplace_variance_ratio(fits, exact, n, scale)
        assert dof >= 300, dof
        assert abs(ratio - 1) < 4 * math.sqrt(5 / dof), (eps, ratio, dof)
    # at epsilon = inf the sampled marginals match the training marginals
    syn = exact.sample(20000)
    for col in schema.categorical:
        tv = 0.5 * (
            syn[col].value_counts(normalize=True).sub(train[col].value_counts(normalize=True), fill_value=0).abs().sum()
        )
        assert tv < 0.03, col


def test_dp_marginals_refuses_private_metadata(fair):
    train = fair.splits().train
    no_bounds = replace(
        fair.schema,
        dp_bounds={k: v for k, v in fair.schema.dp_bounds.items() if k != "age"},
        bounds_source={k: v for k, v in fair.schema.bounds_source.items() if k != "age"},
    )
    with pytest.raises(SchemaError, match="age: no public bounds"):
        DPMarginalsGenerator(random_state=0).fit(train, no_bounds)
    with pytest.raises(ConfigError, match="epsilon must be > 0"):
        DPMarginalsGenerator(epsilon=0, random_state=0).fit(train, fair.schema)
    with pytest.raises(ConfigError, match="bounds_epsilon_fraction"):
        DPMarginalsGenerator(bounds_epsilon_fraction=0, random_state=0).fit(train, fair.schema)


# ------------------------------------------------------------ shadow attack
def test_featurizer_sees_a_copied_target(fair):
    s = fair.splits()
    enc = TableEncoder(fair.schema).fit(s.reference)
    targets = s.train.iloc[:3]
    f = ShadowFeaturizer(fair.schema, enc).set_targets(targets)
    with_t = pd.concat([s.reference.iloc[:200], targets.iloc[[1]]])
    F, dmin = f.transform(with_t)
    F0, dmin0 = f.transform(s.reference.iloc[:200])
    assert F.shape == F0.shape and F.shape[0] == 3 and np.isfinite(F).all()
    assert dmin[1] == 0.0 and dmin0[1] > 0  # (fair has duplicates: the others may match anyway)
    assert not np.allclose(F[1], F0[1])


def test_identity_is_caught_and_dp_marginals_is_not(fair):
    ident = _ctx(fair, lambda: make_generator("identity", random_state=0))
    rows = audit_metrics(ident, {"shadow": SMALL})
    m = {(r["metric"], r["subgroup"]): r["value"] for r in rows}
    assert m[("privacy.shadow_mia_advantage", "outliers")] >= 0.9
    assert m[("privacy.shadow_mia_auc", "all")] >= 0.95
    assert m[("privacy.privacy_gain", "outliers")] < 0.1
    rec = ident.cache["run_record"]
    assert rec["audit_flagged"] is False and rec["audit"]["claim"]["epsilon"] is None
    assert ("privacy.audit_flagged", "all") not in m  # no claim, nothing to flag
    assert m[("privacy.epsilon_lower_bound", "all")] > 2.0  # near the resolution limit ln(50/3.7) = 2.6
    honest = _ctx(fair, lambda: make_generator("dp_marginals", epsilon=1.0, random_state=0))
    rows = audit_metrics(honest, {"shadow": SMALL})
    m = {(r["metric"], r["subgroup"]): r["value"] for r in rows}
    assert m[("privacy.shadow_mia_auc", "all")] < 0.62
    assert m[("privacy.shadow_mia_advantage", "all")] < 0.25
    assert m[("privacy.privacy_gain", "all")] > 0.2


def test_planted_dishonest_generator_is_flagged_honest_one_is_not(fair):
    """Both claim epsilon = 1 at the same settings; the one copying half its rows from training is flagged.

    More validation and test games than SMALL: with 30 / 100 the target chosen on the validation games
    reached eps_lb 0.98 on the test games for this seed after dp_marginals' noise moved to the NoiseSource
    (the leak and the threshold are unchanged; the audit needs the power).
    """
    games = {**SMALL, "games": {"train": 40, "val": 60, "test": 200}}
    leaky = _ctx(fair, lambda: LeakyMarginals(epsilon=1.0, leak=0.5, random_state=0))
    rows = audit_metrics(leaky, {"shadow": games})
    m = {r["metric"]: r["value"] for r in rows if r["subgroup"] == "all"}
    rec = leaky.cache["run_record"]
    assert rec["audit"]["claim"]["epsilon"] == 1.0
    assert m["privacy.epsilon_lower_bound"] > 1.0
    assert m["privacy.audit_flagged"] == 1.0 and rec["audit_flagged"] is True
    assert rec["audit"]["audit"]["test_counts"]["n_in"] == 100
    honest = _ctx(fair, lambda: make_generator("dp_marginals", epsilon=1.0, random_state=0))
    rows = audit_metrics(honest, {"shadow": games})
    m = {r["metric"]: r["value"] for r in rows if r["subgroup"] == "all"}
    assert m["privacy.epsilon_lower_bound"] <= 1.0
    assert m["privacy.audit_flagged"] == 0.0 and honest.cache["run_record"]["audit_flagged"] is False


@pytest.mark.parametrize("claim,state", [(4.0, "not testable"), (1.0, "flagged")])
def test_audit_says_not_testable_above_its_resolution(fair, claim, state):
    """30 test games per world resolve eps_lb <= 2.03: a claim of 4 cannot be refuted, a claim of 1 is."""
    ctx = _ctx(fair, lambda: ClaimingIdentity(epsilon=claim, random_state=0))
    games = {"train": 30, "val": 20, "test": 60}
    rows = audit_metrics(ctx, {"shadow": {**SMALL, "games": games}})
    m = {r["metric"]: r["value"] for r in rows if r["subgroup"] == "all"}
    info = ctx.cache["run_record"]["audit"]["audit"]
    assert info["state"] == state
    assert m["privacy.audit_resolution"] == pytest.approx(A.resolution_limit(30), abs=1e-9)
    assert m["privacy.audit_resolution"] == pytest.approx(2.03, abs=0.01)
    assert m["privacy.epsilon_lower_bound"] > 1.0  # the copying is found either way
    if state == "not testable":
        assert m["privacy.audit_testable"] == 0.0 and math.isnan(m["privacy.audit_flagged"])
        assert ctx.cache["run_record"]["audit_flagged"] is False
    else:
        assert m["privacy.audit_testable"] == 1.0 and m["privacy.audit_flagged"] == 1.0


def test_run_record_names_records_by_row_index_only(fair):
    ctx = _ctx(fair, lambda: make_generator("identity", random_state=0))
    audit_metrics(ctx, {"shadow": {**SMALL, "games": {"train": 8, "val": 4, "test": 4}}})
    info = ctx.cache["run_record"]["audit"]
    train = fair.splits().train
    rows = [t["row"] for t in info["targets"]]
    assert all(isinstance(r, int) and r in train.index for r in rows)
    assert [t["group"] for t in info["targets"]] == ["outliers", "outliers", "random", "random"]
    for r in info["per_target"] + info["audit"]["per_target"]:  # numbers, the group and the statistic only
        assert all(isinstance(v, (int, float)) for k, v in r.items() if k not in ("group", "statistic")), r
    assert info["audit"]["selected"]["row"] in rows
    json.dumps(info)  # plain data
    assert info["cost"]["fits"] == 16 and info["cost"]["s_per_target"] > 0


def test_targets_are_top_outliers_plus_random_records(fair):
    s = fair.splits()
    t = select_targets(s.train, fair.schema, n_outliers=3, n_random=4, reference=s.reference, seed=1)
    assert list(t.values) == ["outliers"] * 3 + ["random"] * 4 and t.index.is_unique
    from attacks.targets import fit_outliers

    om = fit_outliers(s.train, fair.schema, encoder=TableEncoder(fair.schema).fit(s.reference))
    assert set(t.index[:3]) == set(om.train_scores.nlargest(3).index)
    assert set(t.index) <= set(s.train.index)


def test_per_target_design_and_cache(fair, tmp_path):
    s = fair.splits()
    targets = s.train.iloc[[0, 1]]
    threat = ThreatModel(
        s.reference,
        fair.schema,
        lambda: make_generator("dp_marginals", random_state=0),
        n_train=100,
        n_synthetic=background_size(100, 1, "per_target"),
        dataset_fingerprint=fair.fingerprint,
    )
    games = {"train": 6, "val": 4, "test": 4}
    cache = Cache(tmp_path)
    r1 = shadow_attack(threat, targets, design="per_target", games=games, cache=cache, seed=3)
    assert r1.cost["fits"] == 2 * 14 and r1.cost["cache_hits"] == 0
    r2 = shadow_attack(threat, targets, design="per_target", games=games, cache=cache, seed=3)
    assert r2.cost["cache_hits"] == 2 * 14
    for k in r1.scores:
        np.testing.assert_allclose(r1.scores[k], r2.scores[k])
    assert r1.claim["epsilon"] == 1.0 and r1.claim["full_scope"]


def test_identity_outputs_are_never_cached(fair, tmp_path):
    s = fair.splits()
    threat = ThreatModel(
        s.reference,
        fair.schema,
        lambda: make_generator("identity", random_state=0),
        n_train=100,
        n_synthetic=99,
        dataset_fingerprint=fair.fingerprint,
    )
    shadow_attack(threat, s.train.iloc[[0]], games={"train": 4, "val": 2, "test": 2}, cache=Cache(tmp_path))
    assert not list(tmp_path.rglob("*.parquet"))


def test_a_table_with_one_target_class_is_still_a_game(fair):
    """DP noise on a small table can leave one class in the target column; the attack reads values only."""

    class OneClass(DPMarginalsGenerator):
        def _sample(self, n):
            out = super()._sample(n)
            out[fair.schema.target] = "no"
            return out

    s = fair.splits()
    threat = ThreatModel(s.reference, fair.schema, lambda: OneClass(random_state=0), n_train=100, n_synthetic=99)
    res = shadow_attack(threat, s.train.iloc[[0]], games={"train": 4, "val": 2, "test": 2})
    assert res.cost["fits"] == 8 and len(res.per_target) == 1


def test_settings_are_checked_and_named(fair):
    with pytest.raises(ConfigError, match="attacks.shadow.nope"):
        audit_settings({"shadow": {"nope": 1}})
    with pytest.raises(ConfigError, match="attacks.shadow.games.test"):
        audit_settings({"shadow": {"games": {"train": 10, "val": 4, "test": 1}}})
    with pytest.raises(ConfigError, match="attacks.audit.statistics"):
        audit_settings({"audit": {"statistics": ["magic"]}})
    ctx = _ctx(fair, lambda: make_generator("dp_marginals", random_state=0))
    with pytest.raises(ConfigError, match=f"reference split has {len(ctx.splits.reference)}"):
        audit_metrics(ctx, {"shadow": {**SMALL, "n_train": 5000}})
    assert audit_metrics(ctx, {}) == []  # off unless attacks.shadow.enabled
    # the attacks family accepts the full config (the shadow/audit blocks belong to the audit family)
    import yaml

    from attacks.settings import settings

    full = yaml.safe_load((ROOT / "conf" / "attacks" / "full.yaml").read_text())
    full = {k: v for k, v in full.items() if k != "defaults"}
    for k in ("cache", "cache_dir", "cache_refresh"):
        full["shadow"].pop(k)
    assert "shadow" not in settings(full)
    assert audit_settings(full)["shadow"]["enabled"] is True


# ------------------------------------------------------------ end to end
def test_flag_reaches_run_json_and_comparison_table(fair, tmp_path):
    from hydra import compose, initialize_config_dir

    from bench.cli import CONF_DIR
    from bench.results import aggregate
    from bench.run.cell import run_cell

    quick = [
        "attacks=full",
        "attacks.distance.enabled=false",
        "attacks.membership.enabled=false",
        "attacks.anonymeter.enabled=false",
        "attacks.shadow.n_train=200",
        "attacks.shadow.n_outliers=2",
        "attacks.shadow.n_random=2",
        "attacks.shadow.games.train=20",
        "attacks.shadow.games.val=20",
        "attacks.shadow.games.test=40",
        "evaluation.utility.enabled=false",
        "evaluation.detection.enabled=false",
        "evaluation.association.enabled=false",
        "evaluation.fidelity.n_bootstrap=0",
    ]
    runs = {
        "honest": ["generator=dp_marginals"],
        "leaky": [
            "generator=dp_marginals",
            "generator._target_=tests.test_shadow_audit.LeakyMarginals",
            "generator.name=leaky_marginals",
            "+generator.leak=1.0",
        ],
    }  # copies every row
    for name, over in runs.items():
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose(config_name="config", overrides=over + quick)
        rec = run_cell(cfg, tmp_path / name)
        assert rec["status"] == "ok", rec["error"]
        assert "audit" not in rec.get("metric_errors", {}), rec.get("metric_errors")
    honest = json.loads((tmp_path / "honest" / "run.json").read_text())
    leaky = json.loads((tmp_path / "leaky" / "run.json").read_text())
    assert honest["audit_flagged"] is False and leaky["audit_flagged"] is True
    assert leaky["epsilon"] == 1.0 and leaky["audit"]["audit"]["eps_lb"] > 1.0
    # the attacked records are named by row index only: no artifact holds one of them
    from bench.hygiene import find_real_rows

    train = fair.splits().train
    rows = [t["row"] for t in leaky["audit"]["targets"]]
    assert find_real_rows(tmp_path, train.loc[rows]) == []
    table = aggregate(tmp_path, quiet=True).set_index("generator")
    flag = [c for c in table.columns if c.startswith("audit")][0]
    eps_lb = [c for c in table.columns if c.startswith("eps LB")][0]
    assert table.loc["leaky_marginals", flag] == "flagged 1/1" and table.loc["dp_marginals", flag] == "not flagged"
    res = leaky["audit"]["audit"]["resolution_limit"]
    assert table.loc["leaky_marginals", eps_lb].endswith(f"(max {res:.2f})")  # the resolution beside the bound
    assert (
        float(table.loc["leaky_marginals", eps_lb].split()[0])
        > 1.0
        >= float(table.loc["dp_marginals", eps_lb].split()[0])
    )


# ------------------------------------------------------------ slow
@pytest.mark.slow
def test_identity_outlier_advantage_near_one_on_adult(adult_small):
    ctx = _ctx(adult_small, lambda: make_generator("identity", random_state=0))
    cfg = {
        "enabled": True,
        "n_train": 500,
        "n_outliers": 3,
        "n_random": 3,
        "games": {"train": 30, "val": 20, "test": 40},
    }
    rows = audit_metrics(ctx, {"shadow": cfg})
    m = {(r["metric"], r["subgroup"]): r["value"] for r in rows}
    assert m[("privacy.shadow_mia_advantage", "outliers")] >= 0.95


@pytest.mark.slow
def test_dp_tvae_is_not_flagged(fair):
    """DP-SGD at epsilon = 1 (a few epochs): the audit stays below the claim."""
    ctx = _ctx(
        fair, lambda: make_generator("dp_tvae", epsilon=1.0, epochs=3, batch_size=100, verbose=False, random_state=0)
    )
    rows = audit_metrics(ctx, {"shadow": {**SMALL, "games": {"train": 20, "val": 20, "test": 40}}})
    m = {r["metric"]: r["value"] for r in rows if r["subgroup"] == "all"}
    claim = ctx.cache["run_record"]["audit"]["claim"]
    assert claim["epsilon"] <= 1.0 and claim["delta"] > 0
    assert m["privacy.epsilon_lower_bound"] <= 1.0 and m["privacy.audit_flagged"] == 0.0
