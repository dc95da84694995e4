"""DP-SGD generators (dp_tvae, dp_ctgan): accounting, public preprocessing, seeds, errors, sweep.

The fast tests train for one or two epochs on the embedded ``fair`` table (or
run the accountant on a tiny linear model); the trend on Adult is a slow test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench.data.schema import Schema
from bench.errors import ConfigError, SchemaError
from bench.generators.base import available_generators, check_output, make_generator
from bench.generators.dp import DPCTGANGenerator, DPTVAEGenerator, PublicTransformer
from bench.generators.dp_base import dp_batches, make_dp_training, quiet_opacus

ROOT = Path(__file__).resolve().parent.parent
GRID = [0.5, 1, 2, 4, 8, 16]
FAST = dict(epochs=1, batch_size=200, accountant="rdp", verbose=False)  # rdp: calibrates in ~0.1 s
SMALL_GAN = dict(generator_dim=[32, 32], discriminator_dim=[32])


@pytest.fixture(scope="module")
def fair_train(fair):
    return fair.splits().train


# ------------------------------------------------------------- accounting
@pytest.mark.parametrize("accountant", ["prv", "rdp"])
@pytest.mark.parametrize("epsilon", GRID)
def test_spent_epsilon_never_exceeds_target(epsilon, accountant):
    # 930 rows in batches of 10 = 93 batches per epoch: the case where Opacus'
    # make_private_with_epsilon overshoots (its loader runs 92 steps at rate 1/92
    # while the noise was calibrated for rate 1/93); our calibration must not.
    torch.manual_seed(0)
    x = torch.randn(930, 4)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with quiet_opacus():
        tr = make_dp_training(module=model, optimizer=opt, x=x, batch_size=10, epochs=2,
                              target_epsilon=epsilon, target_delta=1e-4, max_grad_norm=1.0,
                              accountant=accountant, grad_sample_mode="hooks")
        steps = 0
        for _, _, xb in dp_batches(tr):
            tr.optimizer.zero_grad(set_to_none=True)
            tr.module(xb).pow(2).mean().backward()
            tr.optimizer.step()
            steps += 1
    assert steps == tr.total_steps == 2 * 92
    history = tr.engine.accountant.history
    assert sum(h[2] for h in history) == steps
    spent = tr.engine.accountant.get_epsilon(delta=1e-4)
    assert spent <= epsilon
    assert spent >= epsilon - 0.05 * epsilon - 0.02  # calibrated, not wildly conservative


@pytest.mark.parametrize("name", ["dp_tvae", "dp_ctgan"])
def test_generator_reports_what_it_spent(name, fair, fair_train):
    kw = {**FAST, "accountant": "prv", **(SMALL_GAN if name == "dp_ctgan" else {})}
    gen = make_generator(name, epsilon=2.0, random_state=0, **kw).fit(fair_train, fair.schema)
    spent = gen.privacy_spent()
    assert spent.accountant == "prv" and spent.full_scope
    assert 0 < spent.epsilon <= 2.0
    assert spent.delta == pytest.approx(1 / (10 * len(fair_train)))
    assert "preprocessing:public-schema" in spent.scope and "sampling:poisson" in spent.scope
    # the reported epsilon is what the accountant gives for the steps actually run
    from opacus.accountants import create_accountant

    acc = create_accountant("prv")
    acc.history = list(gen.training_.engine.accountant.history)
    assert sum(h[2] for h in acc.history) == gen.training_.total_steps
    # dp_ctgan adds the Laplace release of its conditional-vector frequencies (basic composition)
    laplace = gen.cond_epsilon_ if name == "dp_ctgan" else 0.0
    assert (laplace > 0) == (name == "dp_ctgan")
    assert acc.get_epsilon(delta=spent.delta) + laplace == pytest.approx(spent.epsilon)


def test_rdp_accountant_is_named(fair, fair_train):
    gen = DPTVAEGenerator(epsilon=1.0, random_state=0, **FAST).fit(fair_train, fair.schema)
    spent = gen.privacy_spent()
    assert spent.accountant == "rdp" and spent.epsilon <= 1.0


def test_epsilon_inf_is_the_unnoised_reference(fair, fair_train):
    gen = DPTVAEGenerator(epsilon=float("inf"), random_state=0, **FAST).fit(fair_train, fair.schema)
    spent = gen.privacy_spent()
    assert math.isinf(spent.epsilon) and spent.accountant == "none"
    assert not hasattr(gen, "training_")  # no Opacus engine: no clipping, no noise


# ------------------------------------------------------ public preprocessing
def _perturbed(train: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """One record changed: an extreme value in every numerical column, a novel category elsewhere."""
    other = train.copy()
    row = other.index[0]
    for col in schema.numerical:
        other.loc[row, col] = 10 ** 6 if pd.api.types.is_integer_dtype(other[col]) else 1e6
    for col in schema.categorical:
        other.loc[row, col] = "never-seen-category"
    return schema.coerce(other)


def test_one_record_changes_nothing_in_the_preprocessing(fair, fair_train):
    a = PublicTransformer().fit(fair_train, fair.schema).state()
    b = PublicTransformer().fit(_perturbed(fair_train, fair.schema), fair.schema).state()
    assert a == b
    # the same through a fitted generator
    ga = DPTVAEGenerator(epsilon=1.0, random_state=0, **FAST).fit(fair_train, fair.schema)
    gb = DPTVAEGenerator(epsilon=1.0, random_state=0, **FAST).fit(_perturbed(fair_train, fair.schema),
                                                                   fair.schema)
    assert ga.transformer_.state() == gb.transformer_.state()


def test_one_record_changes_the_preprocessing_with_data_bounds(fair, fair_train):
    # the check above can fail: with bounds taken from the rows the extreme value shows
    no_bounds = Schema.from_dict({**fair.schema.to_dict(), "bounds": {}}, name="fair")
    a = PublicTransformer(allow_data_bounds=True).fit(fair_train, no_bounds).state()
    b = PublicTransformer(allow_data_bounds=True).fit(_perturbed(fair_train, no_bounds), no_bounds).state()
    assert a != b


def test_encoding_round_trips_within_public_bounds(adult_small):
    train = adult_small.splits().train
    tr = PublicTransformer(n_bins=10).fit(train, adult_small.schema)
    enc = tr.transform(train)
    assert enc.shape == (len(train), tr.output_dimensions)
    slots = [enc[:, st:ed].argmax(axis=1) for _, st, ed in tr.softmax_spans()]
    back = tr.inverse_transform(enc, slots)
    for col in adult_small.schema.numerical:
        lo, hi = adult_small.schema.bounds[col]
        expect = train[col].clip(lo, hi).to_numpy(float)
        assert np.allclose(back[col].to_numpy(float), expect, atol=0.51), col
    for col in ["workclass", "income", "native-country"]:
        same = (back[col].fillna("<NA>").to_numpy() == train[col].fillna("<NA>").to_numpy())
        assert same.all(), col


# ------------------------------------------------------------------ seeds
def test_tvae_loss_equals_ctgan_loss_function(adult_small):
    # TVAELoss is ctgan's TVAE loss written per row (and without the constant
    # factor * log(sigma) per offset column, since sigma is frozen): on real
    # Adult rows and random decoder output, the batch mean must agree with
    # ctgan.synthesizers.tvae._loss_function, and "none" must sum to "sum".
    from ctgan.synthesizers.tvae import _loss_function

    from bench.generators.dp_tvae import TVAELoss

    tr = PublicTransformer(n_bins=10).fit(adult_small.frame, adult_small.schema)
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
    assert per.sum().item() == pytest.approx(TVAELoss(tr, sigma, factor, reduction="sum")((recon, mu, logvar),
                                                                                         x).item(), rel=1e-6)


@pytest.mark.parametrize("cls,kw", [(DPTVAEGenerator, {}),
                                    (DPCTGANGenerator, dict(SMALL_GAN, conditional=False)),
                                    (DPCTGANGenerator, dict(SMALL_GAN, conditional=True))])
def test_same_seed_same_table(cls, kw, fair, fair_train):
    kw = dict(epsilon=1.0, accountant="rdp", epochs=2, batch_size=500, verbose=False, **kw)
    a = cls(random_state=7, **kw).fit(fair_train, fair.schema)
    b = cls(random_state=7, **kw).fit(fair_train, fair.schema)
    c = cls(random_state=8, **kw).fit(fair_train, fair.schema)
    sa, sb, sc = a.sample(300), b.sample(300), c.sample(300)
    pd.testing.assert_frame_equal(sa, sb)
    assert not sa.equals(sc)
    out = check_output(sa, 300, fair.schema, cls.name)
    for col, (lo, hi) in fair.schema.bounds.items():
        assert out[col].dropna().between(lo, hi).all(), col


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("eps", [0, -1.0, float("nan"), "abc"])
def test_bad_epsilon_is_a_config_error(eps, fair, fair_train):
    with pytest.raises(ConfigError, match="epsilon"):
        DPTVAEGenerator(epsilon=eps, **FAST).fit(fair_train, fair.schema)


@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_delta_at_least_one_over_n_is_a_config_error(factor, fair, fair_train):
    with pytest.raises(ConfigError, match="delta"):
        DPCTGANGenerator(epsilon=1.0, delta=factor / len(fair_train), **FAST).fit(fair_train, fair.schema)


@pytest.mark.parametrize("kw,match", [({"accountant": "gdp"}, "accountant"),
                                      ({"grad_sample_mode": "magic"}, "grad_sample_mode"),
                                      ({"epochs": 0}, "epochs"), ({"max_grad_norm": -1}, "max_grad_norm"),
                                      ({"epsilon": 1000.0, "accountant": "prv"}, "accountant=rdp")])
def test_bad_settings_are_config_errors(kw, match, fair, fair_train):
    with pytest.raises(ConfigError, match=match):
        DPTVAEGenerator(**{**FAST, **kw}).fit(fair_train, fair.schema)


def test_numerical_column_without_public_bounds_is_a_schema_error(fair, fair_train):
    d = fair.schema.to_dict()
    d["bounds"] = {k: v for k, v in d["bounds"].items() if k != "yrs_married"}
    schema = Schema.from_dict(d, name="fair")
    with pytest.raises(SchemaError, match="yrs_married"):
        DPTVAEGenerator(epsilon=1.0, **FAST).fit(fair_train, schema)
    d = fair.schema.to_dict()
    d["domains"] = {k: v for k, v in d["domains"].items() if k != "educ"}
    with pytest.raises(SchemaError, match="educ"):
        DPCTGANGenerator(epsilon=1.0, **FAST).fit(fair_train, Schema.from_dict(d, name="fair"))


def test_data_bounds_opt_in_gives_a_partial_scope(fair, fair_train):
    d = fair.schema.to_dict()
    d["bounds"] = {k: v for k, v in d["bounds"].items() if k != "yrs_married"}
    schema = Schema.from_dict(d, name="fair")
    gen = DPTVAEGenerator(epsilon=1.0, allow_data_bounds=True, random_state=0, **FAST).fit(fair_train, schema)
    spent = gen.privacy_spent()
    assert not spent.full_scope
    assert any("yrs_married" in s for s in spent.scope)
    assert any("yrs_married" in n and "without privacy" in n for n in spent.notes)


# ------------------------------------------- dp_ctgan's conditional vector
COND = dict(SMALL_GAN, conditional=True)


def test_conditional_frequencies_are_laplace_and_composed(fair, fair_train):
    # the Laplace release of the category frequencies is part of the spent epsilon:
    # spent = cond_epsilon (basic composition) + the accountant's DP-SGD epsilon <= target
    from opacus.accountants import create_accountant

    gen = DPCTGANGenerator(epsilon=2.0, cond_epsilon_fraction=0.25, random_state=0,
                           **{**FAST, "accountant": "prv"}, **COND).fit(fair_train, fair.schema)
    m = len(fair.schema.categorical)
    assert len(gen.cond_freqs_) == m == 6
    assert gen.cond_epsilon_ == pytest.approx(0.5) and gen.cond_noise_scale_ == pytest.approx(m / 0.5)
    spent = gen.privacy_spent()
    acc = create_accountant("prv")
    acc.history = list(gen.training_.engine.accountant.history)
    sgd = acc.get_epsilon(delta=spent.delta)
    assert 0 < sgd <= 1.5
    assert spent.epsilon == pytest.approx(0.5 + sgd) and spent.epsilon <= 2.0
    assert any(s.startswith("conditional-vector:laplace-frequencies(epsilon=0.5") for s in spent.scope)
    for f in gen.cond_freqs_:
        assert torch.all(f >= 0) and float(f.sum()) == pytest.approx(1.0)


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


@pytest.mark.parametrize("fraction", [0, 1, 1.5, "x"])
def test_bad_cond_epsilon_fraction_is_a_config_error(fraction, fair, fair_train):
    with pytest.raises(ConfigError, match="cond_epsilon_fraction"):
        DPCTGANGenerator(epsilon=1.0, cond_epsilon_fraction=fraction, **FAST, **COND).fit(fair_train, fair.schema)


# ------------------------------------------------------- configs and sweep
def test_registered_and_configs_build():
    from omegaconf import OmegaConf

    from bench.cli import build_generator

    assert {"dp_tvae", "dp_ctgan"} <= set(available_generators())
    for name, cls in [("dp_tvae", DPTVAEGenerator), ("dp_ctgan", DPCTGANGenerator)]:
        cfg = OmegaConf.load(ROOT / "conf" / "generator" / f"{name}.yaml")
        cfg.random_state = 3
        gen = build_generator(cfg, seed=3)
        assert isinstance(gen, cls) and gen.epsilon == 1.0 and gen.accountant == "prv"


def test_epsilon_sweep_composes():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=epsilon_sweep", "generator=dp_ctgan",
                                                         "generator.epsilon=inf"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    # mst and aim come from the tailbench-mbi plugin (plugins/tailbench-mbi, installed by `make install`)
    assert set(str(params["generator"]).split(",")) == {"dp_ctgan", "dp_tvae", "mst", "aim"}
    grid = [float(v) for v in str(params["generator.epsilon"]).split(",")]
    assert grid == [0.5, 1, 2, 4, 8, 16, math.inf]
    assert cfg.dataset.name == "adult" and cfg.generator.name == "dp_ctgan"
    assert math.isinf(float(cfg.generator.epsilon))


def test_comparison_table_shows_spent_and_partial(tmp_path, fair):
    """A small sweep through run_cell: eps spent in the table, '(partial)' for data bounds."""
    from hydra import compose, initialize_config_dir

    from bench.cli import run_cell
    from bench.results import aggregate

    cells = [("dp_tvae", "1.0", "false"), ("dp_tvae", "1.0", "true"), ("dp_tvae", "inf", "false"),
             ("independent", None, None)]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for i, (gen, eps, data_bounds) in enumerate(cells):
            ov = [f"generator={gen}", "dataset.max_rows=1000", "++evaluation.fidelity.n_bootstrap=0"]
            ov += [f"++evaluation.{fam}.enabled=false" for fam in
                   ("utility", "detection", "association", "validity", "tails", "segments")]
            if eps is not None:
                ov += [f"generator.epsilon={eps}", "generator.epochs=1", "generator.batch_size=200",
                       "generator.accountant=rdp", "generator.verbose=false",
                       f"generator.allow_data_bounds={data_bounds}"]
            if data_bounds == "true":
                ov.append("~dataset.schema.bounds.yrs_married")
            rec = run_cell(compose(config_name="config", overrides=ov), tmp_path / str(i))
            assert rec["status"] == "ok", rec["error"]
    table = aggregate(tmp_path, quiet=True)
    assert "eps spent" in table.columns
    rows = {(g, e): s for g, e, s in zip(table["generator"], table["epsilon"], table["eps spent"])}
    assert rows[("independent", "—")] == "—"
    assert math.isinf(float(rows[("dp_tvae", "inf")]))
    spent = [s for (g, e), s in rows.items() if g == "dp_tvae" and e == "1"]
    assert len(spent) == 1  # both epsilon=1 runs share (generator, epsilon): one row
    assert spent[0].endswith("(partial)") and float(spent[0].split()[0]) <= 1.0


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

    from tests.conftest import dataset_cfg

    from bench.data.loaders import load_adult
    from bench.fidelity import RealProfile, quality_scores
    from bench.utility import tstr_trtr

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
            u[i, j] = tstr_trtr(syn, sp.train, sp.holdout, ds.schema, models=["hgb"], seed=seed)["hgb"]["tstr_auc"]
    for name, m in (("quality", q), ("TSTR", u)):
        means = m.mean(axis=0)
        assert list(means) == sorted(means), (name, dict(zip(grid, means.round(3))))
        assert page_trend_test(m).pvalue < 1e-3, name

def test_secure_mode_without_torchcsprng_is_a_config_error(fair, fair_train):
    import importlib.util

    if importlib.util.find_spec("torchcsprng") is not None:
        pytest.skip("torchcsprng is installed")
    with pytest.raises(ConfigError, match="secure_mode"):
        DPTVAEGenerator(epsilon=1.0, secure_mode=True, **FAST).fit(fair_train, fair.schema)
