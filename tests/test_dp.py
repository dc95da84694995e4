"""DP generators (dp_tvae, dp_ctgan, dp_marginals): accounting, public format, bounds, RNG, errors, sweep.

The fast tests train for one or two epochs on the embedded ``fair`` table or
capped Adult (or run the accountant on a tiny linear model); the trend on
Adult is a slow test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

from bench.data.schema import Schema
from bench.errors import ConfigError, SchemaError
from bench.generators import available_generators, check_output, make_generator
from bench.generators.accounting import DELTA_RATIONALE, TUNED_HERE, replace_one_epsilon
from bench.generators.dp import DPCTGANGenerator, DPTVAEGenerator, PublicTransformer
from bench.generators.dp_base import dp_batches, make_dp_training, quiet_opacus
from bench.generators.dp_bounds import candidate_grid, quantile_utility, release_quantile, resolve_bounds
from bench.generators.laplace import DPMarginalsGenerator
from bench.generators.noise import NoiseSource

ROOT = Path(__file__).resolve().parent.parent
GRID = [0.5, 1, 2, 4, 8, 16]
FAST = dict(epochs=1, batch_size=200, verbose=False, tuned_on="adult")  # tuned elsewhere than fair
SMALL_GAN = dict(generator_dim=[32, 32], discriminator_dim=[32])
MODELS = [("dp_tvae", {}), ("dp_ctgan", SMALL_GAN)]


@pytest.fixture(scope="module")
def fair_train(fair):
    return fair.splits().train


def _replace_one_accountant_epsilon(sigma: float, q: float, steps: int, delta: float) -> float:
    """Google dp-accounting's PLDAccountant under REPLACE_ONE, called directly (not through bench)."""
    from dp_accounting import dp_event, privacy_accountant
    from dp_accounting.pld import pld_privacy_accountant

    acc = pld_privacy_accountant.PLDAccountant(neighboring_relation=privacy_accountant.NeighboringRelation.REPLACE_ONE)
    acc.compose(dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps))
    return acc.get_epsilon(delta)


# ------------------------------------------------------------- accounting
def _analytic_gaussian_delta(eps: float, sensitivity: float, sigma: float) -> float:
    """Balle & Wang 2018, Theorem 8: delta(eps) of the Gaussian mechanism N(f(D), sigma^2)."""
    a, b = sensitivity / (2 * sigma), eps * sigma / sensitivity
    return norm.cdf(a - b) - math.exp(eps) * norm.cdf(-a - b)


@pytest.mark.parametrize("sigma", [0.8, 2.0, 5.0])
@pytest.mark.parametrize("eps", [0.5, 1.0, 3.0])
def test_accountant_matches_the_analytic_gaussian_mechanism(sigma, eps):
    # one unsampled Gaussian step: replace-one is the Gaussian mechanism with sensitivity 2
    # (in units of the clip norm), add/remove-one the one with sensitivity 1
    from dp_accounting import dp_event, privacy_accountant
    from dp_accounting.pld import pld_privacy_accountant

    rel = privacy_accountant.NeighboringRelation
    deltas = {}
    for name, relation in (("replace", rel.REPLACE_ONE), ("add_remove", rel.ADD_OR_REMOVE_ONE)):
        acc = pld_privacy_accountant.PLDAccountant(neighboring_relation=relation)
        acc.compose(dp_event.GaussianDpEvent(sigma))
        deltas[name] = acc.get_delta(eps)
    for name, d in (("replace", 2.0), ("add_remove", 1.0)):
        exact = _analytic_gaussian_delta(eps, d, sigma)
        assert deltas[name] == pytest.approx(exact, rel=2e-3, abs=1e-9), name
        assert deltas[name] >= exact - 1e-12, name  # the PLD is pessimistic: never below the truth
    assert deltas["replace"] > deltas["add_remove"]
    # bench's composition of the library's PLD objects gives the same as the accountant
    acc_eps = _replace_one_accountant_epsilon(sigma, 1.0, 1, 1e-5)
    assert replace_one_epsilon(sigma, 1.0, 1, 1e-5) == pytest.approx(acc_eps, rel=1e-9)


def test_pure_releases_compose_no_worse_than_basic_composition():
    sgd = replace_one_epsilon(4.0, 0.05, 300, 1e-6)
    assert sgd == pytest.approx(_replace_one_accountant_epsilon(4.0, 0.05, 300, 1e-6), rel=1e-9)
    both = replace_one_epsilon(4.0, 0.05, 300, 1e-6, (0.1, 0.05))
    assert sgd < both <= sgd + 0.15 + 1e-9
    # pure parts alone: their basic composition (up to the PLD discretisation)
    assert replace_one_epsilon(4.0, 0.05, 0, 1e-6, (0.3,)) == pytest.approx(0.3, abs=1e-3)


@pytest.mark.parametrize(
    "epsilon", [pytest.param(e, marks=pytest.mark.slow) if e >= 2 else e for e in GRID]
)  # from 2 on, 10-40 s of PLD calibration each: `make test-all` runs them
def test_spent_epsilon_never_exceeds_target(epsilon):
    # 930 rows, expected batch 10, 2 epochs. Derived here, not with the code's formula:
    # each row joins a step with probability 10/930; an epoch is ceil(930/10) = 93 steps.
    n, batch, epochs, delta = 930, 10, 2, 1e-4
    q_expected, steps_expected = batch / n, epochs * math.ceil(n / batch)
    torch.manual_seed(0)
    x = torch.randn(n, 4)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with quiet_opacus():
        tr = make_dp_training(
            module=model,
            optimizer=opt,
            x=x,
            batch_size=batch,
            epochs=epochs,
            target_epsilon=epsilon,
            target_delta=delta,
            max_grad_norm=1.0,
            grad_sample_mode="hooks",
            noise=NoiseSource(seed=0),
        )
        sizes = []
        for _, _, xb in dp_batches(tr):
            tr.optimizer.zero_grad(set_to_none=True)
            tr.module(xb).pow(2).mean().backward()
            tr.optimizer.step()
            sizes.append(xb.shape[0])
    assert tr.sample_rate == q_expected and len(sizes) == tr.steps_run[0] == steps_expected
    assert tr.optimizer.expected_batch_size == pytest.approx(q_expected * n)  # Opacus averages by q n
    assert abs(np.mean(sizes) - batch) < 4 * math.sqrt(batch / len(sizes))  # Poisson batches, mean q n
    spent = _replace_one_accountant_epsilon(tr.noise_multiplier, q_expected, steps_expected, delta)
    assert spent <= epsilon
    assert spent >= epsilon - 0.05 * epsilon - 0.02  # calibrated, not wildly conservative
    assert tr.epsilon() == pytest.approx(spent, rel=1e-9)


@pytest.mark.parametrize("target,q,steps,pure", [(0.1, 0.05, 300, ()), (2.0, 0.1, 200, (0.05,))])
def test_calibrated_sigma_is_the_smallest_on_the_reported_grid(target, q, steps, pure):
    """The coarse search only places the bracket: on the reported PLD grid sigma meets the target and
    sigma / (1 + rel_tol) does not."""
    import bench.generators.accounting as acc

    acc.calibrate_noise_multiplier.cache_clear()
    sigma = acc.calibrate_noise_multiplier(target, 1e-6, q, steps, pure)
    assert replace_one_epsilon(sigma, q, steps, 1e-6, pure) <= target
    assert replace_one_epsilon(sigma / 1.001, q, steps, 1e-6, pure) > target
    coarse = replace_one_epsilon(sigma, q, steps, 1e-6, pure, discretization=acc.SEARCH_DISCRETIZATION)
    assert coarse >= replace_one_epsilon(sigma, q, steps, 1e-6, pure)  # a coarser grid never reads lower


def test_calibration_is_memoised(monkeypatch):
    # shadow-model games refit the same DP generator many times: the calibration runs once per argument set
    import bench.generators.accounting as acc

    calls = []
    real = acc.replace_one_epsilon

    def counting(*args, **kw):
        calls.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(acc, "replace_one_epsilon", counting)
    acc.calibrate_noise_multiplier.cache_clear()
    values = [acc.calibrate_noise_multiplier(1.0, 1e-5, 0.25, 40) for _ in range(3)]
    first = len(calls)
    assert first > 3 and values[0] == values[2]
    acc.calibrate_noise_multiplier(1.0, 1e-5, 0.5, 40)
    assert len(calls) > first
    assert real(values[0], 0.25, 40, 1e-5) <= 1.0
    acc.calibrate_noise_multiplier.cache_clear()


@pytest.mark.parametrize("name,kw", MODELS)
def test_generator_reports_what_it_spent(name, kw, fair, fair_train):
    gen = make_generator(name, epsilon=2.0, random_state=0, **FAST, **kw).fit(fair_train, fair.schema)
    spent = gen.privacy_spent()
    n = len(fair_train)
    assert spent.accountant.startswith("pld (dp-accounting 0.6.0") and spent.neighbouring == "replace-one"
    assert 0 < spent.epsilon <= 2.0 and spent.full_scope and spent.outside == []
    assert spent.delta == pytest.approx(1 / n**2) and spent.delta_rationale == DELTA_RATIONALE
    assert spent.seeded and spent.rng.startswith("seeded")
    assert "preprocessing:public-schema" in spent.scope and "sampling:poisson" in spent.scope
    assert spent.tuning_source.startswith("adult: chosen on a different public dataset")
    # fair's numerical bounds are DP releases (bounds_epsilon_fraction 0.05, 8 releases), composed with the rest
    assert set(gen.bounds_.released) == set(fair.schema.numerical)
    assert gen.bounds_.epsilon == pytest.approx(0.05 * 2.0)
    assert all(f"{c}: DP release" in spent.bounds_source for c in fair.schema.numerical)
    # the reported epsilon is the PLD of the steps that ran, composed with every pure release
    t = gen.training_
    pure = list(gen.bounds_.epsilons) + ([gen.cond_epsilon_] if name == "dp_ctgan" else [])
    assert sorted(t.pure_epsilons) == pytest.approx(sorted(pure))
    assert t.steps_run[0] == t.total_steps == math.ceil(n / 200)
    assert t.sample_rate == 200 / n
    assert spent.epsilon == pytest.approx(
        replace_one_epsilon(t.noise_multiplier, 200 / n, t.total_steps, spent.delta, pure), rel=1e-9
    )


def test_epsilon_inf_claims_nothing(fair, fair_train):
    for gen in (
        DPTVAEGenerator(epsilon=float("inf"), random_state=0, **FAST),
        DPMarginalsGenerator(epsilon=float("inf"), random_state=0),
    ):
        spent = gen.fit(fair_train, fair.schema).privacy_spent()
        assert math.isinf(spent.epsilon) and spent.accountant == "none" and spent.delta is None
        assert not spent.full_scope and any("epsilon=inf" in o for o in spent.outside)
        assert not spent.seeded
    assert not hasattr(
        DPTVAEGenerator(epsilon=float("inf"), random_state=0, **FAST).fit(fair_train, fair.schema), "training_"
    )  # no Opacus: no clipping, no noise


def test_tuned_on_the_released_dataset_is_outside_the_claim(fair, fair_train):
    here = DPTVAEGenerator(epsilon=1.0, random_state=0, **{**FAST, "tuned_on": "fair"}).fit(fair_train, fair.schema)
    ps = here.privacy_spent()
    assert ps.outside == [TUNED_HERE] and not ps.full_scope
    assert "chosen on the dataset being released" in ps.tuning_source
    lit = DPMarginalsGenerator(epsilon=1.0, tuned_on="none", random_state=0).fit(fair_train, fair.schema)
    assert lit.privacy_spent().full_scope and lit.privacy_spent().tuning_source.startswith("none")
    with pytest.raises(ConfigError, match="tuned_on"):
        DPTVAEGenerator(epsilon=1.0, **{**FAST, "tuned_on": ""}).fit(fair_train, fair.schema)


# ------------------------------------------- output format from the public schema
# (the one-record tests of issue #15 point 1 are in tests/test_dp_format.py)
def test_non_nullable_missing_slot_is_never_sampled(adult_small):
    # the missing slot stays in the encoding (training rows may hold NaN) but is never drawn
    train = adult_small.splits().train
    gen = DPTVAEGenerator(epsilon=float("inf"), random_state=0, **FAST).fit(train, adult_small.schema)
    raw = torch.zeros(2000, gen.transformer_.output_dimensions)
    for pos in gen.transformer_.missing_positions():
        raw[:, pos] = 50.0  # the model "wants" missing everywhere
    out = gen._decode(raw, torch.Generator().manual_seed(0), 2000)
    for col in out.columns:
        assert out[col].isna().any() == (col in adult_small.schema.nullable), col


# ------------------------------------------------------------- bounds
def test_dp_bounds_utility_has_sensitivity_one_under_replace_one():
    rng = np.random.default_rng(0)
    grid = candidate_grid(1, 1e6)
    for _ in range(20):
        x = rng.lognormal(10, 1, size=500)
        x[rng.integers(500, size=5)] = np.nan  # missing values count on neither side
        y = x.copy()
        y[rng.integers(500)] = rng.choice([np.nan, rng.lognormal(10, 3)])  # replace one record
        for side, q in (("lower", 0.01), ("upper", 0.99)):
            ux = quantile_utility(x[~np.isnan(x)], 500, q, side, grid)
            uy = quantile_utility(y[~np.isnan(y)], 500, q, side, grid)
            assert np.max(np.abs(ux - uy)) <= 1 + 1e-9
            assert np.max(np.abs(ux - uy)) >= 1 - 1e-9  # the bound is attained: the test can fail


def test_dp_bounds_release_is_exact_at_inf_and_close_at_large_epsilon(adult_small):
    train = adult_small.splits().train
    v = train["fnlwgt"].to_numpy(float)
    grid = candidate_grid(1, 1e8)
    lo_q, hi_q = np.quantile(v, [0.01, 0.99])
    exact = (
        release_quantile(v, len(v), 0.01, "lower", grid, math.inf, None),
        release_quantile(v, len(v), 0.99, "upper", grid, math.inf, None),
    )
    step = grid[1] / grid[0]  # log grid: neighbouring candidates differ by this factor
    assert lo_q / step**2 <= exact[0] <= lo_q * step**2 and hi_q / step**2 <= exact[1] <= hi_q * step**2
    draws = [release_quantile(v, len(v), 0.99, "upper", grid, 5.0, NoiseSource(seed=s)) for s in range(20)]
    assert np.median(draws) == pytest.approx(hi_q, rel=0.1)
    # the whole release through resolve_bounds: the public bounds are the schema's, fnlwgt's is released
    rel = resolve_bounds(train, adult_small.schema, epsilon=0.1, noise=NoiseSource(seed=0))
    assert rel.released == ["fnlwgt"] and rel.epsilons == [0.05, 0.05]
    assert rel.bounds["age"] == adult_small.schema.bounds["age"]
    assert "DP release" in rel.sources["fnlwgt"] and "AAGE>16" in rel.sources["age"]


def test_column_without_bounds_or_dp_bounds_is_a_schema_error(fair, fair_train):
    d = fair.schema.to_dict()
    d["dp_bounds"] = {k: v for k, v in d["dp_bounds"].items() if k != "yrs_married"}
    d["bounds_source"] = {k: v for k, v in d["bounds_source"].items() if k != "yrs_married"}
    schema = Schema.from_dict(d, name="fair")
    for gen in (DPTVAEGenerator(epsilon=1.0, **FAST), DPMarginalsGenerator(epsilon=1.0)):
        with pytest.raises(SchemaError, match="yrs_married: no public bounds"):
            gen.fit(fair_train, schema)
    # every missing bound and domain in one error, not one column per run
    d["domains"] = {k: v for k, v in d["domains"].items() if k not in ("educ", "occupation")}
    for gen in (DPCTGANGenerator(epsilon=1.0, **FAST), DPMarginalsGenerator(epsilon=1.0)):
        with pytest.raises(SchemaError, match="3 column") as err:
            gen.fit(fair_train, Schema.from_dict(d, name="fair"))
        for col in ("yrs_married: no public bounds", "educ: no public domain", "occupation: no public domain"):
            assert col in str(err.value)


def test_data_bounds_opt_in_is_outside_the_claim(fair, fair_train):
    d = fair.schema.to_dict()
    d["dp_bounds"] = {k: v for k, v in d["dp_bounds"].items() if k != "yrs_married"}
    d["bounds_source"] = {k: v for k, v in d["bounds_source"].items() if k != "yrs_married"}
    schema = Schema.from_dict(d, name="fair")
    gen = DPTVAEGenerator(epsilon=1.0, allow_data_bounds=True, random_state=0, **FAST).fit(fair_train, schema)
    spent = gen.privacy_spent()
    assert not spent.full_scope
    assert any("yrs_married" in s for s in spent.scope)
    assert any("yrs_married" in o and "training rows" in o for o in spent.outside)
    assert "yrs_married: training rows" in spent.bounds_source


def test_encoding_round_trips_within_the_bounds(adult_small):
    train = adult_small.splits().train
    bounds = resolve_bounds(train, adult_small.schema, epsilon=math.inf, noise=None)
    tr = PublicTransformer(n_bins=10).fit(train, adult_small.schema, bounds=bounds)
    enc = tr.transform(train)
    assert enc.shape == (len(train), tr.output_dimensions)
    slots = [enc[:, st:ed].argmax(axis=1) for _, st, ed in tr.softmax_spans()]
    back = tr.inverse_transform(enc, slots)
    for col in adult_small.schema.numerical:
        lo, hi = bounds.bounds[col]
        expect = train[col].clip(math.ceil(lo), math.floor(hi)).to_numpy(float)
        assert np.allclose(back[col].to_numpy(float), expect, atol=0.51), col
    for col in ["workclass", "income", "native-country"]:
        same = back[col].fillna("<NA>").to_numpy() == train[col].fillna("<NA>").to_numpy()
        assert same.all(), col


# ------------------------------------------------------------------ noise and seeds
def test_tvae_loss_equals_ctgan_loss_function(adult_small):
    # TVAELoss is ctgan's TVAE loss written per row (and without the constant
    # factor * log(sigma) per offset column, since sigma is frozen): on real
    # Adult rows and random decoder output, the batch mean must agree with
    # ctgan.synthesizers.tvae._loss_function, and "none" must sum to "sum".
    from ctgan.synthesizers.tvae import _loss_function

    from bench.generators.dp_tvae import TVAELoss

    bounds = resolve_bounds(adult_small.frame, adult_small.schema, epsilon=math.inf, noise=None)
    tr = PublicTransformer(n_bins=10).fit(adult_small.frame, adult_small.schema, bounds=bounds)
    x = torch.from_numpy(tr.transform(adult_small.frame.head(300)))
    g = torch.Generator().manual_seed(0)
    recon = 3 * torch.randn(x.shape, generator=g)
    mu, logvar = torch.randn(300, 8, generator=g), torch.randn(300, 8, generator=g)
    sigma, factor = 0.5, 2.0
    ours = TVAELoss(tr, sigma, factor)((recon, mu, logvar), x)
    rec, kld = _loss_function(recon, x, torch.full((x.shape[1],), sigma), mu, logvar, tr.output_info_list, factor)
    n_offsets = len(tr.tanh_positions())
    assert n_offsets > 0
    expected = rec + kld - factor * n_offsets * math.log(sigma)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5)
    per = TVAELoss(tr, sigma, factor, reduction="none")((recon, mu, logvar), x)
    assert per.shape == (300,)
    assert per.sum().item() == pytest.approx(
        TVAELoss(tr, sigma, factor, reduction="sum")((recon, mu, logvar), x).item(), rel=1e-6
    )


@pytest.mark.parametrize(
    "cls,kw",
    [
        (DPTVAEGenerator, {}),
        (DPCTGANGenerator, dict(SMALL_GAN, conditional=False)),
        (DPCTGANGenerator, dict(SMALL_GAN, conditional=True)),
    ],
)
def test_same_seed_same_table(cls, kw, fair, fair_train):
    kw = dict(epsilon=1.0, epochs=2, batch_size=500, verbose=False, **kw)
    a = cls(random_state=7, **kw).fit(fair_train, fair.schema)
    b = cls(random_state=7, **kw).fit(fair_train, fair.schema)
    c = cls(random_state=8, **kw).fit(fair_train, fair.schema)
    sa, sb, sc = a.sample(300), b.sample(300), c.sample(300)
    pd.testing.assert_frame_equal(sa, sb)
    assert not sa.equals(sc)
    out = check_output(sa, 300, fair.schema, cls.name)
    for col, (lo, hi) in a.bounds_.bounds.items():
        assert out[col].dropna().between(lo, hi).all(), col


@pytest.mark.parametrize("name,kw", MODELS + [("dp_marginals", {})])
def test_secure_mode_is_not_reproducible_seeded_mode_is(name, kw, fair, fair_train):
    extra = {} if name == "dp_marginals" else dict(FAST, epochs=2)

    def table(secure):
        g = make_generator(name, epsilon=1.0, random_state=3, secure_mode=secure, **extra, **kw)
        return g.fit(fair_train, fair.schema), g.sample(500)

    (g1, a), (_, b) = table(True), table(True)
    assert not a.equals(b)  # same seed, fresh noise from os.urandom
    assert g1.privacy_spent().rng.startswith("secure") and not g1.privacy_spent().seeded
    (g3, c), (_, d) = table(False), table(False)
    pd.testing.assert_frame_equal(c, d)
    assert g3.privacy_spent().seeded


def test_every_secret_draw_comes_from_the_noise_source(fair, fair_train, monkeypatch):
    # Opacus' own noise generator must never run, and every Poisson mask is drawn from the NoiseSource
    import opacus.optimizers.optimizer as oo

    def refuse(*a, **k):
        raise AssertionError("Opacus drew noise itself")

    monkeypatch.setattr(oo, "_generate_noise", refuse)
    calls = {"bernoulli": 0, "normal": 0, "laplace": 0, "gumbel": 0}
    for m in calls:
        real = getattr(NoiseSource, m)

        def wrapped(self, *a, _real=real, _m=m, **k):
            calls[_m] += 1
            return _real(self, *a, **k)

        monkeypatch.setattr(NoiseSource, m, wrapped)
    gen = DPCTGANGenerator(epsilon=1.0, random_state=0, **FAST, **SMALL_GAN).fit(fair_train, fair.schema)
    steps = gen.training_.total_steps
    assert calls["bernoulli"] == steps
    assert calls["normal"] == 4 * steps  # one draw per discriminator tensor (2 layers: weight, bias) per step
    assert calls["laplace"] == len(gen.cond_freqs_)  # one histogram release per categorical column
    assert calls["gumbel"] == 2 * len(gen.bounds_.released)  # two bounds per dp_bounds column


def test_progress_bar_shows_no_data_dependent_number(fair, fair_train, monkeypatch):
    import re

    shown = []

    class Bar:
        def set_postfix_str(self, s):
            shown.append(s)

        def update(self, k):
            pass

        def close(self):
            pass

    monkeypatch.setattr(DPTVAEGenerator, "_progress", lambda self, total: Bar())
    DPTVAEGenerator(epsilon=1.0, epochs=3, batch_size=500, verbose=True, random_state=0).fit(fair_train, fair.schema)
    assert len(shown) == 3
    for s in shown:  # the epoch and the epsilon spent so far; no loss
        assert re.fullmatch(r"epoch \d+/3( eps \d+\.\d{3}/1)?", s), s
    assert shown[-1].startswith("epoch 3/3 eps ")


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("eps", [0, -1.0, float("nan"), "abc"])
def test_bad_epsilon_is_a_config_error(eps, fair, fair_train):
    with pytest.raises(ConfigError, match="epsilon"):
        DPTVAEGenerator(epsilon=eps, **FAST).fit(fair_train, fair.schema)


@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_delta_at_least_one_over_n_is_a_config_error(factor, fair, fair_train):
    with pytest.raises(ConfigError, match="delta"):
        DPCTGANGenerator(epsilon=1.0, delta=factor / len(fair_train), **FAST).fit(fair_train, fair.schema)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"accountant": "gdp"}, "accountant"),
        ({"accountant": "prv"}, "replace-one"),
        ({"accountant": "rdp"}, "replace-one"),
        ({"grad_sample_mode": "magic"}, "grad_sample_mode"),
        ({"epochs": 0}, "epochs"),
        ({"max_grad_norm": -1}, "max_grad_norm"),
        ({"epsilon": 2000.0}, "epsilon=2000"),
        ({"secure_mode": "yes"}, "secure_mode"),
        ({"bounds_epsilon_fraction": 1.0}, "bounds_epsilon_fraction"),
        ({"bounds_quantiles": [0.9, 0.1]}, "bounds_quantiles"),
    ],
)
def test_bad_settings_are_config_errors(kw, match, fair, fair_train):
    with pytest.raises(ConfigError, match=match):
        DPTVAEGenerator(**{**FAST, **kw}).fit(fair_train, fair.schema)


# ------------------------------------------- dp_ctgan's conditional vector
COND = dict(SMALL_GAN, conditional=True)


def test_conditional_frequencies_are_laplace_and_composed(fair, fair_train):
    # the Laplace release of the category frequencies (scale 2m/epsilon_cond under replace-one) is
    # an (epsilon_cond, 0)-DP event composed with DP-SGD and the bounds releases in the PLD
    gen = DPCTGANGenerator(epsilon=2.0, cond_epsilon_fraction=0.25, random_state=0, **FAST, **COND).fit(
        fair_train, fair.schema
    )
    m = len(fair.schema.categorical)
    assert len(gen.cond_freqs_) == m == 6
    assert gen.cond_epsilon_ == pytest.approx(0.5) and gen.cond_noise_scale_ == pytest.approx(2 * m / 0.5)
    spent = gen.privacy_spent()
    t = gen.training_
    sgd_only = _replace_one_accountant_epsilon(t.noise_multiplier, t.sample_rate, t.total_steps, spent.delta)
    assert 0 < sgd_only < spent.epsilon <= 2.0
    pure = list(gen.bounds_.epsilons) + [0.5]
    assert spent.epsilon == pytest.approx(
        replace_one_epsilon(t.noise_multiplier, t.sample_rate, t.total_steps, spent.delta, pure), rel=1e-9
    )
    assert spent.epsilon <= sgd_only + sum(pure) + 1e-9  # no worse than basic composition
    assert any(s.startswith("conditional-vector:laplace-frequencies(epsilon=0.5") for s in spent.scope)
    for f in gen.cond_freqs_:
        assert torch.all(f >= 0) and float(f.sum()) == pytest.approx(1.0)
        assert float(f[-1]) == 0.0  # fair's columns are not nullable: the missing slot is never drawn


def test_conditional_frequencies_at_inf_are_the_exact_ones(fair, fair_train):
    gen = DPCTGANGenerator(epsilon=float("inf"), random_state=0, **FAST, **COND).fit(fair_train, fair.schema)
    assert gen.cond_epsilon_ == 0 and gen.cond_noise_scale_ == 0  # inf: no noise, and no guarantee claimed
    cats = [c for c in gen.transformer_.codes_ if c.kind == "categorical"]
    for code, f in zip(cats, gen.cond_freqs_):
        values = fair_train[code.name].astype(str)
        expect = [float((values == k).mean()) for k in code.categories]
        assert f[:-1].numpy() == pytest.approx(expect, abs=1e-6), code.name
        assert float(f[-1]) == pytest.approx(1 - sum(expect), abs=1e-6)  # the missing / unknown slot


def test_real_condition_is_the_rows_own_category(fair, fair_train):
    # no training-by-sampling: each real row's condition is read from that row
    # alone, so it stays inside the row's clipped per-sample gradient
    gen = DPCTGANGenerator(epsilon=float("inf"), random_state=0, **FAST, **COND).fit(fair_train, fair.schema)
    x = torch.from_numpy(gen.transformer_.transform(fair_train))
    cond = gen._real_cond(x)
    assert cond.shape == (len(fair_train), gen.cond_dim_)
    assert torch.all(cond.sum(dim=1) == 1)
    assert torch.equal(cond * x[:, gen._cond_idx], cond)
    drawn = gen._cond_col[cond.argmax(dim=1)]
    assert set(drawn.tolist()) == set(range(len(gen._cond_spans)))
    # synthetic conditions follow the released frequencies, one active column per row
    fake, col, cat = gen._fake_cond(20000, torch.Generator().manual_seed(0))
    assert torch.all(fake.sum(dim=1) == 1)
    j = int(col[0])
    share = torch.bincount(cat[col == j], minlength=len(gen.cond_freqs_[j])).double() / int((col == j).sum())
    assert share.numpy() == pytest.approx(gen.cond_freqs_[j].double().numpy(), abs=0.03)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, "x", 0.96])
def test_bad_cond_epsilon_fraction_is_a_config_error(fraction, fair, fair_train):
    with pytest.raises(ConfigError, match="cond_epsilon_fraction"):
        DPCTGANGenerator(epsilon=1.0, cond_epsilon_fraction=fraction, **FAST, **COND).fit(fair_train, fair.schema)


# ------------------------------------------------------- configs and sweep
def test_registered_and_configs_build():
    from omegaconf import OmegaConf

    from bench.run.cell import build_generator

    assert {"dp_tvae", "dp_ctgan", "dp_marginals"} <= set(available_generators())
    for name, cls, tuned in [
        ("dp_tvae", DPTVAEGenerator, "fair"),
        ("dp_ctgan", DPCTGANGenerator, "fair"),
        ("dp_tvae_adult_tuned", DPTVAEGenerator, "adult"),
        ("dp_ctgan_adult_tuned", DPCTGANGenerator, "adult"),
        ("dp_marginals", DPMarginalsGenerator, "none"),
    ]:
        cfg = OmegaConf.load(ROOT / "conf" / "generator" / f"{name}.yaml")
        cfg.random_state = 3
        gen = build_generator(cfg, seed=3)
        assert isinstance(gen, cls) and gen.epsilon == 1.0 and gen.tuned_on == tuned, name
        assert getattr(gen, "accountant", "pld") == "pld" and gen.secure_mode is False, name
        assert cfg.name == name


def test_epsilon_sweep_is_one_command():
    """experiment=epsilon_sweep: DP generators at every epsilon, the non-DP references once per seed."""
    from hydra import compose, initialize_config_dir

    from bench.run.cell import build_generator
    from hydra_plugins.tailbench_sweeper.tailbench_sweeper import drop_repeated_non_dp

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=epsilon_sweep"], return_hydra_config=True)
        one = compose(config_name="config", overrides=["experiment=epsilon_sweep", "generator=dp_ctgan", "epsilon=inf"])
    params = cfg.hydra.sweeper.params
    gens = str(params["generator"]).split(",")
    dp = {"dp_ctgan", "dp_tvae", "dp_marginals", "mst", "aim"}  # mst and aim: the tailbench-mbi plugin
    assert dp < set(gens) and {"identity", "independent", "gaussian_copula", "ctgan", "tvae"} < set(gens)
    grid = [float(v) for v in str(params["epsilon"]).split(",")]
    assert grid == [0.5, 1, 2, 4, 8, 16, math.inf]
    seeds = str(params["seed"]).split(",")
    jobs = [
        [f"generator={g}", f"epsilon={e}", f"seed={s}"]
        for g in gens
        for e in str(params["epsilon"]).split(",")
        for s in seeds
    ]
    kept = drop_repeated_non_dp(jobs, None)
    per_gen = {g: sum(1 for j in kept if j[0] == f"generator={g}") for g in gens}
    assert all(per_gen[g] == len(grid) * len(seeds) for g in dp)
    assert all(per_gen[g] == len(seeds) for g in set(gens) - dp)  # once per seed, not once per epsilon
    assert one.dataset.name == "adult" and math.isinf(float(build_generator(one.generator, 0, one.epsilon).epsilon))


def test_comparison_table_marks_seeded_and_partial_runs(tmp_path, fair):
    """A small sweep through run_cell: '(seeded)' for seeded noise, '(partial)' for data bounds, all fields kept."""
    import json

    from hydra import compose, initialize_config_dir

    from bench.report.html import dp_accounting
    from bench.results import aggregate, collect
    from bench.run.cell import run_cell

    cells = [
        ("dp_tvae", "1.0", "false", "false"),
        ("dp_tvae", "1.0", "true", "false"),
        ("dp_tvae", "inf", "false", "false"),
        ("dp_marginals", "2.0", None, "true"),
        ("independent", None, None, None),
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for i, (gen, eps, data_bounds, secure) in enumerate(cells):
            ov = ["profile=fast", f"generator={gen}", "dataset.max_rows=1000"]  # no attacks: accounting only
            ov += [
                f"++evaluation.{fam}.enabled=false"
                for fam in ("utility", "detection", "association", "validity", "tails", "segments")
            ]
            if eps is not None:
                ov += [f"generator.epsilon={eps}", f"generator.secure_mode={secure}"]
            if data_bounds is not None:
                ov += [
                    "generator.epochs=1",
                    "generator.batch_size=200",
                    "generator.verbose=false",
                    f"generator.allow_data_bounds={data_bounds}",
                ]
            if data_bounds == "true":
                ov += ["~dataset.schema.dp_bounds.yrs_married", "~dataset.schema.bounds_source.yrs_married"]
            rec = run_cell(compose(config_name="config", overrides=ov), tmp_path / str(i))
            assert rec["status"] == "ok", rec["error"]
    first = json.loads((tmp_path / "0" / "run.json").read_text())
    for key in (
        "epsilon_spent",
        "delta",
        "accountant",
        "dp_scope",
        "dp_full_scope",
        "dp_notes",
        "dp_neighbouring",
        "dp_delta_rationale",
        "dp_rng",
        "dp_bounds_source",
        "dp_tuning_source",
        "dp_outside",
        "dp_seeded",
    ):
        assert key in first, key
    assert first["dp_neighbouring"] == "replace-one" and first["dp_seeded"] is True
    table = aggregate(tmp_path, quiet=True)
    rows = {(g, e): s for g, e, s in zip(table["generator"], table["epsilon"], table["eps spent"])}
    assert rows[("independent", "—")] == "—"
    assert math.isinf(float(rows[("dp_tvae", "inf")]))  # no claim, nothing to mark
    # the two epsilon=1 runs differ in allow_data_bounds (a swept setting, not a seed): two rows
    assert "generator.allow_data_bounds" in table.columns
    tvae1 = table[(table["generator"] == "dp_tvae") & (table["epsilon"] == "1")]
    spent = dict(zip(tvae1["generator.allow_data_bounds"], tvae1["eps spent"]))
    assert set(spent) == {"false", "true"}, spent
    # both partial on fair: the default recipe was tuned on fair; data bounds add a second reason
    assert all(v.endswith("(partial) (seeded)") and float(v.split()[0]) <= 1.0 for v in spent.values()), spent
    outside = [" ".join(json.loads((tmp_path / str(i) / "run.json").read_text())["dp_outside"]) for i in (0, 1)]
    assert "tuning" in outside[0] and "bounds" not in outside[0], outside[0]
    assert "tuning" in outside[1] and "bounds" in outside[1], outside[1]
    secure = rows[("dp_marginals", "2")]
    assert "(seeded)" not in secure and "(partial)" not in secure and float(secure) == pytest.approx(2.0)
    runs, _ = collect(tmp_path)
    acc = dp_accounting(runs).set_index(["generator", "epsilon"])
    row = acc.loc[("dp_marginals", "2")]
    assert row["neighbouring"] == "replace-one" and row["rng"].startswith("secure")
    assert row["outside"] == "nothing" and "DP release" in row["bounds_source"]
    assert row["tuning_source"].startswith("none") and row["delta_rationale"].startswith("0: pure")
    tvae = acc.loc[("dp_tvae", "1")]
    assert "training rows" in tvae["outside"] and tvae["delta_rationale"].startswith("1/n^2")


# -------------------------------------------------------------------- slow
@pytest.mark.slow
def test_adult_fidelity_and_tstr_rise_with_epsilon(adult_dir):
    """On capped Adult, dp_tvae's quality and TSTR rise with epsilon across the whole grid.

    Five seeds; the means must be monotone over {0.5, 1, 2, 4, 8, 16, inf} and
    Page's L test for an ordered trend (seeds as blocks) must reject "no trend".
    About 5 minutes on 2 cores; scripts/epsilon_trend.py runs the same check
    for dp_ctgan too (see docs/dp.md for its figures).
    """
    from scipy.stats import page_trend_test

    from bench.data.loaders import load_adult
    from bench.metrics.shapes import RealProfile, quality_scores
    from bench.metrics.utility import tstr_trtr
    from tests.conftest import dataset_cfg

    ds = load_adult(**dataset_cfg("adult", data_dir=adult_dir, max_rows=8000))
    sp = ds.splits()
    prof = RealProfile.from_frame(sp.train, ds.schema)
    grid = GRID + [float("inf")]
    seeds = range(5)
    q = np.zeros((len(seeds), len(grid)))
    u = np.zeros_like(q)
    for j, eps in enumerate(grid):
        for i, seed in enumerate(seeds):
            gen = DPTVAEGenerator(epsilon=eps, verbose=False, random_state=seed).fit(sp.train, ds.schema)
            syn = check_output(gen.sample(len(sp.train)), len(sp.train), ds.schema, "dp_tvae")
            q[i, j] = quality_scores(prof, syn)["quality_score"]
            u[i, j] = tstr_trtr(
                train=sp.train, holdout=sp.holdout, synthetic=syn, schema=ds.schema, models=["hgb"], seed=seed
            )["hgb"]["tstr_auc"]
    for name, m in (("quality", q), ("TSTR", u)):
        means = m.mean(axis=0)
        assert list(means) == sorted(means), (name, dict(zip(grid, means.round(3))))
        assert page_trend_test(m).pvalue < 1e-3, name
