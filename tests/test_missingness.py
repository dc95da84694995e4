"""Missing values measured: rates, co-missingness, and "missing <=> category" rules (planted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.api import evaluate
from bench.data.schema import Schema
from bench.generators import make_generator
from bench.metrics.missingness import missing_rate_similarity, missingness_rules, rule_violations


def _with_lab_and_cause(fair, seed: int = 0) -> tuple[pd.DataFrame, Schema]:
    """fair plus a lab value missing for 17% of people and a cause column missing exactly when had_affair is no."""
    rng = np.random.default_rng(seed)
    f = fair.frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    f["lab"] = np.where(rng.random(len(f)) < 0.17, np.nan, rng.normal(1.0, 0.3, len(f)))
    f["cause"] = np.where(f["had_affair"] == "yes", rng.choice(["a", "b"], len(f)), None)
    d = fair.schema.to_dict()
    d["columns"] = {**d["columns"], "lab": "numerical", "cause": "categorical"}
    d["domains"] = {**d["domains"], "cause": ["a", "b"]}
    return f, Schema.from_dict(d)


def test_a_column_mostly_missing_scores_low_though_its_ks_is_high(fair):
    f, sch = _with_lab_and_cause(fair)
    real, syn = f.iloc[:3000], f.iloc[3000:6000].copy()
    syn.loc[syn.sample(frac=0.9, random_state=1).index, "lab"] = np.nan  # 90% missing, real 17%
    res = missing_rate_similarity(real, syn, sch)
    assert res["by_column"]["lab"]["similarity"] == pytest.approx(1 - abs(0.17 - 0.9), abs=0.03)
    metrics, _ = evaluate(
        train=real, synthetic=syn, schema=sch, settings={"missingness": {}, "fidelity": {"n_bootstrap": 0}}
    )
    m = metrics.set_index("metric")["value"]
    assert m["fidelity.missing_rate_similarity"] < 0.7
    from bench.metrics.shapes import ks_complement

    assert ks_complement(real["lab"], syn["lab"]) > 0.9  # what KS alone would have said


def test_a_broken_missing_category_rule_is_named(fair):
    f, sch = _with_lab_and_cause(fair)
    real = sch.coerce(f.iloc[:3000])
    rules = missingness_rules(real, sch)
    assert {(r["column"], r["determinant"]) for r in rules} >= {("cause", "had_affair")}
    rule = next(r for r in rules if r["column"] == "cause" and r["determinant"] == "had_affair")
    assert rule["missing_when"] == ["no"]
    assert rule_violations(real, [rule])[0]["violations"] == 0.0  # the real table keeps it
    syn = sch.coerce(make_generator("independent", random_state=0).fit(real, sch).sample(2000), check_target=False)
    _, rec = evaluate(train=real, synthetic=syn, schema=sch, settings={"missingness": {}})
    broken = {(r["column"], r["determinant"]): r for r in rec["missingness"]["broken_rules"]}
    assert ("cause", "had_affair") in broken and broken["cause", "had_affair"]["violations"] > 0.3
    # identity keeps every rule
    ident = sch.coerce(make_generator("identity", random_state=0).fit(real, sch).sample(2000), check_target=False)
    metrics, rec = evaluate(train=real, synthetic=ident, schema=sch, settings={"missingness": {}})
    assert rec["missingness"]["broken_rules"] == []
    assert metrics.set_index("metric")["value"]["fidelity.missingness_rules_kept"] == 1.0


def test_a_missingness_constraint_is_checked_on_every_row(fair):
    """A constraint about missingness counts the rows with NaN (skipping them used to catch only half)."""
    from bench.metrics.validity import constraint_mask

    f, sch = _with_lab_and_cause(fair)
    real = sch.coerce(f.iloc[:3000])
    rule = "cause.isna() == (had_affair == 'no')"
    assert constraint_mask(real, rule, sch).all()
    broken = real.copy()
    rows = broken.index[:100]
    broken.loc[rows, "cause"] = np.where(broken.loc[rows, "cause"].isna(), "a", None)  # flip the rule on 100 rows
    assert (~constraint_mask(broken, rule, sch)).sum() == 100
    # an ordinary constraint still skips rows whose referenced values are missing
    assert constraint_mask(real, "lab > -100", sch).all()


def test_a_generator_writing_nan_into_a_never_missing_column_fails_validity(fair):
    from bench.metrics.validity import validity

    f, sch = _with_lab_and_cause(fair)
    real = sch.coerce(f.iloc[:3000])
    syn = real.copy()
    syn.loc[syn.index[:150], "had_affair"] = np.nan  # the target: never missing in the real table
    res = validity(syn, sch, real=real)
    assert res["missing"] == pytest.approx(1 - 150 / len(syn)) and res["by_column"]["had_affair"]["missing"] == 150
    assert validity(real, sch, real=real)["missing"] == 1.0  # lab and cause are missing in the real table
    # a declared nullable column may be missing even where the real rows never are
    d = sch.to_dict()
    d["nullable"] = ["had_affair"]
    assert validity(syn, Schema.from_dict(d), real=real)["missing"] == 1.0


def test_missing_rate_similarity_equals_sdmetrics(fair):
    """Per column, our similarity is SDMetrics' MissingValueSimilarity on the same two columns."""
    from sdmetrics.single_column import MissingValueSimilarity

    f, sch = _with_lab_and_cause(fair, seed=2)
    real, syn = f.iloc[:3000], f.iloc[3000:5500].copy()
    syn.loc[syn.sample(frac=0.4, random_state=3).index, "lab"] = np.nan
    syn.loc[syn.sample(frac=0.05, random_state=4).index, "age"] = np.nan
    by = missing_rate_similarity(real, syn, sch)["by_column"]
    assert set(by) == {"lab", "cause", "age"}
    for col, v in by.items():
        assert v["similarity"] == pytest.approx(MissingValueSimilarity.compute(real[col], syn[col]), abs=1e-12), col
