"""Model collapse (bench/collapse/): toy check, training-set modes, DCR, and runs on Adult.

The fast set uses the independent generator (a fit is a copy of the columns, a
sample a draw per column), so ten generations x five seeds x four modes cost
seconds; the Gaussian-copula and Hydra-sweep versions are marked slow.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from bench.collapse.loop import run_generations
from bench.collapse.modes import MODES, CollapseSettings, anchor_split, training_set
from bench.collapse.scorer import CollapseScorer, dcr, decompose
from bench.collapse.toy import toy_collapse, toy_expected
from bench.data.loaders import load_adult
from bench.errors import ConfigError
from bench.generators.baselines import IndependentGenerator
from bench.run.collapse import COLLAPSE_COLUMNS, run_collapse
from bench.run.record import set_threads
from tests.conftest import CONF, dataset_cfg

set_threads(1)  # HistGradientBoosting's OpenMP threads crawl on 2 shared cores

N_TRAIN_ROWS = 3334  # Adult capped so that the train split has 2,000 rows


@pytest.fixture(scope="session")
def adult_2k(adult_dir):
    """Adult with a 2,000-row train split: rare categories are a handful of rows."""
    ds = load_adult(**dataset_cfg("adult", data_dir=adult_dir, max_rows=N_TRAIN_ROWS))
    return ds, ds.splits()


def independent(seed: int) -> IndependentGenerator:
    return IndependentGenerator(random_state=seed)


def retention_runs(ds, sp, make, modes, seeds, generations, anchor_fraction=0.1):
    """{mode: {seed: CollapseResult}} with tail metrics only."""
    out = {}
    for mode in modes:
        out[mode] = {}
        for seed in seeds:
            s = CollapseSettings(mode=mode, generations=generations, anchor_fraction=anchor_fraction, metrics=["tails"])
            out[mode][seed] = run_generations(
                real=sp.train, holdout=sp.holdout, schema=ds.schema, make_generator=make, settings=s, seed=seed
            )
    return out


def retention(res) -> np.ndarray:
    v = res.values
    return v[v["metric"] == "tails.rare_category_retention"].sort_values("generation")["value"].to_numpy()


# --------------------------------------------------------------------- toy
def test_toy_expected_is_the_gaussian_tail_of_the_fitted_mixture():
    # Moments of 0.97 N(0,1) + 0.03 N(8,1): mean 0.24, variance 1 + 0.97*0.03*64.
    mu, var = 0.03 * 8, 1 + 0.97 * 0.03 * 64
    p_real = 0.97 * norm.sf(5) + 0.03 * norm.sf(5 - 8)
    p_fit = norm.sf((5 - mu) / np.sqrt(var))
    exp0 = toy_expected(0.0)
    exp1 = toy_expected(0.1)
    assert exp0[0] == pytest.approx(p_real, rel=1e-12)
    assert np.allclose(exp0[1:], p_fit, rtol=1e-12)
    assert np.allclose(exp1[1:], 0.9 * p_fit + 0.1 * p_real, rtol=1e-12)
    assert exp0[1] < exp0[0] / 10  # one Gaussian fit keeps under a tenth of the tail


@pytest.mark.parametrize("f", [0.0, 0.1])
def test_toy_simulation_matches_analytic_tail_share(f):
    runs = np.array([toy_collapse(f, n=5000, generations=8, seed=s) for s in range(100)])
    exp = toy_expected(f, generations=8)
    # generation 0: binomial share of 5000 real draws; mean of 100 runs has sd 0.00024
    assert runs[:, 0].mean() == pytest.approx(exp[0], abs=0.001)
    # generations 1-8: flat at the expected share (loss at generation 1, no trend after)
    later = runs[:, 1:].mean(axis=0)
    assert np.allclose(later, exp[1:], rtol=0.2)
    assert runs[:, 1:].mean() == pytest.approx(exp[1], rel=0.1)
    first_half, second_half = runs[:, 1:5].mean(), runs[:, 5:].mean()
    assert abs(second_half - first_half) < 0.15 * exp[1]


def test_toy_anchor_keeps_more_tail_than_replace_but_not_the_mode():
    r0 = np.array([toy_collapse(0.0, seed=s) for s in range(30)])[:, -1].mean()
    r1 = np.array([toy_collapse(0.1, seed=s) for s in range(30)])[:, -1].mean()
    real = toy_expected(0.0)[0]
    assert r0 < r1 < real / 3


def test_toy_rejects_bad_fraction():
    with pytest.raises(ConfigError, match="anchor_fraction"):
        toy_collapse(1.0)


# ---------------------------------------------------------- training sets
def test_training_sets_follow_each_mode(adult_2k):
    ds, sp = adult_2k
    real = sp.train
    n = 1000
    rng = np.random.default_rng(0)
    s1 = independent(1).fit(real, ds.schema).sample(n)
    s2 = independent(2).fit(s1, ds.schema).sample(n)
    for mode in MODES:  # round 0 trains on the real split in every mode
        t, k = training_set(mode, real, [], n=n, rng=rng)
        assert t is real and k == len(real)
    t, k = training_set("replace", real, [s1, s2], n=n, rng=rng)
    assert t is s2 and k == 0
    t, k = training_set("accumulate", real, [s1, s2], n=n, rng=rng)
    assert len(t) == len(real) + 2 * n and k == len(real)
    pd.testing.assert_frame_equal(t.iloc[: len(real)], real.reset_index(drop=True))
    t, k = training_set("accumulate_subsample", real, [s1, s2], n=n, rng=rng)
    assert len(t) == n and 0 < k < n
    # about len(real) / (len(real) + 2n) of a uniform subsample is real
    assert abs(k / n - len(real) / (len(real) + 2 * n)) < 0.08
    t, k = training_set("anchor", real, [s1, s2], n=n, rng=rng, anchor_fraction=0.1)
    n_syn, n_real = anchor_split(n, 0.1)
    assert (n_syn, n_real) == (900, 100) and len(t) == n and k == n_real
    # the anchor rows are real training rows: each is at DCR 0 from the train split
    assert (dcr(t.iloc[n_syn:], real, ds.schema) == 0).all()
    fixed = real.iloc[:n_real]
    t2, _ = training_set("anchor", real, [s1, s2], n=n, rng=rng, anchor_fraction=0.1, fixed_anchor=fixed)
    pd.testing.assert_frame_equal(t2.iloc[n_syn:].reset_index(drop=True), fixed.reset_index(drop=True))


def test_anchor_fraction_sets_the_real_rows_of_each_round(adult_2k):
    ds, sp = adult_2k
    f0 = retention_runs(ds, sp, independent, ["anchor"], [0], generations=4, anchor_fraction=0.0)["anchor"][0]
    f2 = retention_runs(ds, sp, independent, ["anchor"], [0], generations=4, anchor_fraction=0.2)["anchor"][0]
    assert [g["train_real_rows"] for g in f0.generations[1:]] == [2000, 0, 0, 0]
    assert [g["train_real_rows"] for g in f2.generations[1:]] == [2000, 400, 400, 400]
    # f = 0 trains each round on a permutation of the previous table: no category can return
    assert np.all(np.diff(retention(f0)) <= 0)


# ---------------------------------------------------------------------- DCR
def test_dcr_equals_sdmetrics_calculate_dcr(adult_2k):
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    ds, sp = adult_2k
    syn = independent(0).fit(sp.train, ds.schema).sample(150)
    data = pd.concat([syn, sp.holdout.iloc[:40], sp.train.iloc[:10]], ignore_index=True)
    ref = sp.train.iloc[:600]
    assert data.isna().any().any() and ref.isna().any().any()  # Adult's missing values are exercised
    meta = {
        "columns": {
            c: {"sdtype": "numerical" if k == "numerical" else "categorical"} for c, k in ds.schema.columns.items()
        }
    }
    theirs = calculate_dcr(data, ref, meta).to_numpy()
    ours = dcr(data, ref, ds.schema)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert (ours[-10:] == 0).all()  # training rows are at distance 0


# -------------------------------------------------- collapse on Adult (fast)
@pytest.fixture(scope="session")
def independent_runs(adult_2k):
    ds, sp = adult_2k
    return retention_runs(ds, sp, independent, list(MODES), seeds=range(5), generations=10)


def test_replace_never_regains_a_rare_category(independent_runs):
    for seed, res in independent_runs["replace"].items():
        r = retention(res)
        assert r[0] == 1.0 and len(r) == 11
        assert np.all(np.diff(r) <= 0), f"seed {seed}: retention rose under replace: {r}"
        lost = [{(c, k) for c, k, _ in g["lost"]} for g in res.generations]
        assert all(a <= b for a, b in zip(lost, lost[1:])), f"seed {seed}: a lost category returned"
        assert r[-1] < r[1]  # recursion loses more after the first generation


def test_accumulate_and_anchor_keep_more_rare_categories_than_replace(independent_runs):
    last = {m: np.mean([retention(r)[-1] for r in runs.values()]) for m, runs in independent_runs.items()}
    assert last["replace"] < last["accumulate"]
    assert last["replace"] < last["anchor"]
    assert last["replace"] < last["accumulate_subsample"]
    # accumulate keeps every real row in the training data: it holds the first-generation level
    first = np.mean([retention(r)[1] for r in independent_runs["accumulate"].values()])
    assert last["accumulate"] > first - 0.1


def test_first_generation_is_shared_and_drift_is_separate(independent_runs):
    for seed in range(5):
        decs = {m: decompose(independent_runs[m][seed].values).set_index("metric") for m in MODES}
        key = "tails.rare_category_retention"
        g1 = {m: d.loc[key, "gen1_change"] for m, d in decs.items()}
        assert len(set(g1.values())) == 1 and g1["replace"] < 0  # same fit on the real split
        assert decs["replace"].loc[key, "drift"] < decs["accumulate"].loc[key, "drift"]


def test_a_generation_that_lost_a_target_class_is_scored_not_dropped(adult_2k):
    ds, sp = adult_2k
    one_class = sp.train[sp.train["income"] == "<=50K"]
    table = independent(0).fit(one_class, ds.schema).sample(500)
    scorer = CollapseScorer(sp.train, sp.holdout, ds.schema, CollapseSettings(), seed=0)
    values, details = scorer.score(table, 3)
    v = {m: x for _, m, x, _ in values}
    assert v["utility.tstr_auc"] == 0.5  # a constant score: AUC 0.5 by definition
    assert 0.5 < v["utility.tstr_trtr_ratio"] < 1.0
    assert "one class" in details["errors"]["utility"]
    assert {"tails.rare_category_retention", "fidelity.column_shapes", "privacy.dcr_median"} <= set(v)
    assert ("income", ">50K") not in {(c, k) for c, k, _ in details["lost"]}  # not rare, not listed


# -------------------------------------------------------- the Hydra task
def _compose(tmp_path, adult_dir, *overrides):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                "experiment=collapse",
                "generator=independent",
                f"dataset.data_dir={adult_dir}",
                f"dataset.max_rows={N_TRAIN_ROWS}",
                f"cache.dir={tmp_path / 'cache'}",
                *overrides,
            ],
        )


def test_run_collapse_writes_records_and_reuses_cached_tables(tmp_path, adult_dir, adult_2k):
    cfg = _compose(tmp_path, adult_dir, "collapse.mode=anchor", "collapse.generations=2", "seed=3")
    rec = run_collapse(cfg, tmp_path / "run1")
    assert rec["status"] == "ok", rec["error"]
    out = tmp_path / "run1"
    col = pd.read_parquet(out / "collapse.parquet")
    assert list(col.columns) == COLLAPSE_COLUMNS
    assert sorted(col["generation"].unique()) == [0, 1, 2]
    assert set(col["mode"]) == {"anchor"} and set(col["anchor_fraction"]) == {0.1}
    for m in (
        "tails.rare_category_retention",
        "fidelity.column_shapes",
        "utility.tstr_auc",
        "privacy.dcr_median",
        "tails.variance_ratio",
        "tails.tail_mass_ratio",
    ):
        assert col[col["metric"] == m]["generation"].tolist() == [0, 1, 2], m
    g0 = col[col["generation"] == 0].set_index("metric")["value"]
    assert g0["tails.rare_category_retention"] == 1.0 and g0["fidelity.column_shapes"] == 1.0
    met = pd.read_parquet(out / "metrics.parquet")
    subs = set(met["subgroup"])
    assert {"anchor_f0.1:gen0", "anchor_f0.1:gen2", "anchor_f0.1:gen1_change", "anchor_f0.1:drift"} <= subs
    assert "all" not in subs  # modes must not be averaged together in the comparison table
    run = json.loads((out / "run.json").read_text())
    gens = run["collapse"]["generations"]
    assert [g["generation"] for g in gens] == [0, 1, 2]
    assert gens[2]["train_real_rows"] == anchor_split(2000, 0.1)[1]
    assert all(isinstance(c, str) and isinstance(k, str) for c, k, _ in gens[2]["lost"])
    # no real record in what the run wrote: no training row's values appear as a row
    _, sp = adult_2k
    text = (out / "run.json").read_text() + col.to_csv() + met.to_csv()
    for _, row in sp.train.head(50).iterrows():
        assert ",".join(str(v) for v in row.to_numpy()) not in text
    # a second run reads every generation's table from the cache and measures the same values
    rec2 = run_collapse(cfg, tmp_path / "run2")
    assert rec2["status"] == "ok"
    assert all(g["cached"] for g in rec2["collapse"]["generations"][1:])
    col2 = pd.read_parquet(tmp_path / "run2" / "collapse.parquet")
    pd.testing.assert_frame_equal(col, col2)


def test_run_collapse_records_a_bad_setting_instead_of_raising(tmp_path, adult_dir):
    cfg = _compose(tmp_path, adult_dir, "collapse.mode=recycle")
    rec = run_collapse(cfg, tmp_path / "bad")
    assert rec["status"] == "failed" and "collapse.mode" in rec["error"] and "replace" in rec["error"]
    assert json.loads((tmp_path / "bad" / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"anchor_fraction": 1.0}, "anchor_fraction"),
        ({"generations": 0}, "generations"),
        ({"anchor_pool": "holdout"}, "anchor_pool"),
        ({"metrics": ["tails", "mia"]}, "metrics"),
        ({"epochs": 3}, "unknown key"),
    ],
)
def test_settings_name_the_bad_key(bad, match):
    with pytest.raises(ConfigError, match=match):
        CollapseSettings.from_mapping(bad)


def test_gaussian_copula_anchor_run_tracks_lost_and_regained_categories(adult_2k):
    """A real generator with real rows re-injected can regain a lost category: the bookkeeping follows it."""
    from bench.generators.sdv import GaussianCopulaGenerator

    ds, sp = adult_2k
    s = CollapseSettings(mode="anchor", generations=3, anchor_fraction=0.5, metrics=["tails"])
    res = run_generations(
        real=sp.train,
        holdout=sp.holdout,
        schema=ds.schema,
        settings=s,
        seed=0,
        make_generator=lambda k: GaussianCopulaGenerator(random_state=k),
    )
    r = retention(res)
    n_rare = res.generations[0]["n_rare"]
    lost = [{(c, k) for c, k, _ in g["lost"]} for g in res.generations]
    assert n_rare > 10 and lost[0] == set() and r[0] == 1.0
    for g, (ret, lg) in enumerate(zip(r, lost)):
        assert ret == pytest.approx(1 - len(lg) / n_rare), g  # retention is the lost list, by name
    for g in range(1, len(lost)):
        newly = {(c, k) for c, k, _ in res.generations[g]["newly_lost"]}
        assert newly == lost[g] - lost[g - 1], g
    regained = set().union(*(lost[g - 1] - lost[g] for g in range(1, len(lost))))
    assert regained, "with half of every round's rows real, some lost category comes back"
    assert r[1] < 1.0  # the copula's first fit already loses rare categories


# ------------------------------------------------------------------- slow
@pytest.mark.slow
def test_gaussian_copula_collapse_orders_the_modes(adult_2k):
    from bench.generators.sdv import GaussianCopulaGenerator

    ds, sp = adult_2k
    runs = retention_runs(
        ds,
        sp,
        lambda s: GaussianCopulaGenerator(random_state=s),
        ["replace", "accumulate", "anchor"],
        seeds=range(3),
        generations=5,
    )
    for res in runs["replace"].values():
        assert np.all(np.diff(retention(res)) <= 0)
    last = {m: np.mean([retention(r)[-1] for r in rs.values()]) for m, rs in runs.items()}
    assert last["replace"] < last["accumulate"]
    assert last["replace"] < last["anchor"]


@pytest.mark.slow
def test_collapse_sweep_runs_through_hydra(tmp_path, adult_dir):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("tailbench")
    cmd = [
        str(exe),
        "-m",
        "experiment=collapse",
        "generator=independent",
        "collapse.generations=2",
        f"dataset.data_dir={adult_dir}",
        f"dataset.max_rows={N_TRAIN_ROWS}",
        "seed=0",
        f"paths.results_dir={tmp_path}",
        f"cache.dir={tmp_path / 'cache'}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = sorted((tmp_path / "collapse").rglob("collapse.parquet"))
    assert len(files) == len(MODES)
    col = pd.concat(pd.read_parquet(f) for f in files)
    assert set(col["mode"]) == set(MODES)
    runs = [json.loads(p.read_text()) for p in (tmp_path / "collapse").rglob("run.json")]
    assert {r["status"] for r in runs} == {"ok"} and {r["task"] for r in runs} == {"collapse"}
