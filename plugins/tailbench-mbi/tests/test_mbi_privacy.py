"""Accounting of mst and aim: zCDP costs, the CKS20 conversion, spent <= target, conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import FAST, FAST_AIM, sub_schema
from tailbench_mbi import AIMGenerator, MSTGenerator, zcdp

from bench.errors import ConfigError
from bench.generators.noise import NoiseSource

GRID = (0.5, 1.0, 4.0, 16.0)
CLASSES = {"mst": (MSTGenerator, FAST), "aim": (AIMGenerator, FAST_AIM)}


def make(name: str, **kw):
    cls, fast = CLASSES[name]
    return cls(**{**fast, "verbose": False, **kw})


@pytest.fixture(scope="module")
def small(fair, fair_small):
    cols = ["rate_marriage", "age", "had_affair"]
    return fair_small[cols], sub_schema(fair.schema, cols)


# ------------------------------------------------------------------ zCDP
@pytest.mark.parametrize("delta", [1e-5, 1e-9, 1 / 29305**2])
@pytest.mark.parametrize("eps", [0.1, 0.5, 1.0, 4.0, 16.0, 64.0])
def test_rho_calibration_meets_the_target(eps, delta):
    rho = zcdp.rho_from_epsilon(eps, delta)
    got = zcdp.epsilon_from_rho(rho, delta)
    assert got <= eps and got >= eps * (1 - 1e-6)
    # CKS20 is tighter than Bun & Steinke's rho + 2 sqrt(rho log(1/delta)), so it allows a larger rho
    classic = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert classic > eps


def test_cks20_matches_dp_accounting_rdp():
    dpa = pytest.importorskip("dp_accounting")
    from dp_accounting import rdp

    rho = zcdp.rho_from_epsilon(1.0, 1e-6)
    # a Gaussian with noise multiplier z (sensitivity 1) is 1/(2 z^2)-zCDP
    acc = rdp.RdpAccountant(orders=list(np.linspace(1.01, 200, 20000)))
    acc.compose(dpa.GaussianDpEvent(noise_multiplier=1 / math.sqrt(2 * rho)))
    assert acc.get_epsilon(1e-6) == pytest.approx(1.0, rel=1e-3)


def test_costs_and_their_inverses():
    assert zcdp.gaussian_rho(2.0) == pytest.approx(2 / 8)  # replace-one: Delta_2^2 = 2
    assert zcdp.gaussian_rho(2.0, l2_sensitivity=1.0) == pytest.approx(1 / 8)
    assert zcdp.gaussian_rho(zcdp.gaussian_sigma(0.3)) == pytest.approx(0.3)
    assert zcdp.exponential_rho(zcdp.exponential_epsilon(0.02)) == pytest.approx(0.02)
    assert zcdp.epsilon_from_rho(0.0, 1e-6) == 0.0
    with pytest.raises(ValueError):
        zcdp.rho_from_epsilon(0.0, 1e-6)
    with pytest.raises(ValueError):
        zcdp.epsilon_from_rho(0.1, 1.5)


# ------------------------------------------------------------ generators
@pytest.mark.parametrize("name", ["mst", "aim"])
def test_spent_epsilon_never_exceeds_the_target(name, small):
    train, schema = small
    d = len(schema.columns)
    for eps in GRID:
        gen = make(name, epsilon=eps, random_state=0, **({"max_rounds": 4} if name == "aim" else {}))
        ps = gen.fit(train, schema).privacy_spent()
        assert ps.epsilon <= eps, (name, eps, ps.epsilon)
        assert ps.epsilon >= eps * (1 - 1e-6), "the budget is spent, not wasted"
        assert gen.rho_spent_ <= gen.rho_ * (1 + 1e-12)
        assert ps.delta == pytest.approx(1 / len(train) ** 2)
        assert ps.accountant == zcdp.ACCOUNTANT and ps.neighbouring == "replace-one"
        assert ps.full_scope and ps.outside == [] and ps.rng.startswith("seeded")
        assert "1/n^2" in ps.delta_rationale and "age: DP release" in ps.bounds_source
        # the ledger is what was spent: every step's cost recomputed from its noise scale
        for step in gen.ledger_:
            if step["mechanism"] == "gaussian":
                assert step["rho"] == pytest.approx(2 / (2 * step["sigma"] ** 2))  # Delta_2^2 = 2
            else:
                assert step["rho"] == pytest.approx(step["epsilon"] ** 2 / 8)
        selections = [s for s in gen.ledger_ if s["mechanism"] == "exponential" and s["step"] != "bounds"]
        # fair's numerical columns have no documented bounds: two DP quantile releases each (sensitivity 1)
        released = [s for s in gen.ledger_ if s["step"] == "bounds"]
        assert len(released) == 2 * len(gen.bounds_.released) and {s["sensitivity"] for s in released} == {1.0}
        assert sum(s["rho"] for s in released) == pytest.approx(0.05 * gen.rho_, rel=1e-9)
        if name == "mst":  # rho in thirds: d one-way marginals, d - 1 edges selected, d - 1 edges measured
            by: dict[str, list[float]] = {}
            for s in gen.ledger_:
                by.setdefault(s["step"], []).append(s["rho"])
            assert [len(by[k]) for k in ("one-way", "select-edge", "tree")] == [d, d - 1, d - 1]
            for k in ("one-way", "select-edge", "tree"):
                assert sum(by[k]) == pytest.approx(gen.rho_mechanism_ / 3, rel=1e-9)
            assert {s["sensitivity"] for s in selections} == {2.0}
            assert len({frozenset(e) for e in gen.tree_}) == d - 1
        else:  # rounds within the cap, score sensitivity 2 * max weight (replace-one)
            assert 1 <= gen.rounds_ <= 4
            w = gen.workload(list(schema.columns), 2)[2]
            assert {s["sensitivity"] for s in selections} == {2 * w.max()}


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_every_noise_draw_comes_from_the_noise_source(name, small, monkeypatch):
    # With NoiseSource's normal and Gumbel draws set to zero, the measurements are the exact counts
    # and the exponential mechanism is the argmax: nothing else adds randomness to the mechanism.
    train, schema = small
    monkeypatch.setattr(NoiseSource, "normal", lambda self, size, scale=1.0: np.zeros(size))
    monkeypatch.setattr(NoiseSource, "gumbel", lambda self, size: np.zeros(size))
    a = make(name, epsilon=1.0, random_state=0).fit(train, schema)
    b = make(name, epsilon=1.0, random_state=99).fit(train, schema)
    for ma, mb in zip(a.measurements_, b.measurements_):
        assert ma.clique == mb.clique
        np.testing.assert_array_equal(np.asarray(ma.noisy_measurement), np.asarray(mb.noisy_measurement))


def test_secure_mode_and_tuning_on_this_dataset_are_recorded(small):
    train, schema = small
    ps = make("mst", epsilon=1.0, random_state=0, secure_mode=True, tuned_on="fair").fit(train, schema).privacy_spent()
    assert ps.rng.startswith("secure")
    assert not ps.full_scope and any("hyperparameters chosen on this dataset" in o for o in ps.outside)
    assert ps.tuning_source.startswith("fair")


def test_epsilon_inf_is_exact_and_claims_nothing(small):
    from mbi import Dataset

    train, schema = small
    gen = make("mst", epsilon=math.inf, random_state=0).fit(train, schema)
    ps = gen.privacy_spent()
    assert ps.epsilon == math.inf and ps.delta is None and ps.accountant == "none" and not ps.full_scope
    data = Dataset(gen.encoder_.transform(train), gen.domain_)
    for m in gen.measurements_:  # the measurements are the true counts
        np.testing.assert_allclose(np.asarray(m.noisy_measurement), gen._counts(data, m.clique))


@pytest.mark.parametrize(
    "bad",
    [{"epsilon": 0}, {"epsilon": -1}, {"epsilon": "x"}, {"delta": 0.5}, {"delta": 0.0}, {"n_bins": 0}, {"iters": 0}],
)
def test_bad_settings_are_named_errors(bad, small):
    train, schema = small
    key = next(iter(bad))
    with pytest.raises(ConfigError, match=f"generator.{key}"):
        make("mst", random_state=0, **bad).fit(train, schema)


@pytest.mark.parametrize(
    "bad", [{"max_rounds": 0}, {"alpha": 1.0}, {"workload_degree": 0}, {"max_model_size_mb": -1}, {"round_iters": 0}]
)
def test_bad_aim_settings_are_named_errors(bad, small):
    train, schema = small
    key = next(iter(bad))
    with pytest.raises(ConfigError, match=f"generator.{key}"):
        make("aim", random_state=0, **bad).fit(train, schema)


def test_delta_at_one_over_n_is_refused(small):
    train, schema = small
    with pytest.raises(ConfigError, match=r"generator.delta.*1/n"):
        make("aim", delta=1 / len(train), random_state=0).fit(train, schema)
