"""A target that leaks into the features is flagged, naming the feature."""

from __future__ import annotations

import numpy as np

from bench.api import evaluate
from bench.data.schema import Schema
from bench.metrics.utility import leakage_warnings, single_feature_aucs


def _planted(fair, kind: str):
    """fair plus one column that leaks had_affair: its value, or only its missingness."""
    f = fair.frame.copy()
    rng = np.random.default_rng(0)
    if kind == "value":
        f["leak"] = np.where(f["had_affair"] == "yes", "a", "b")
        extra = {"leak": "categorical"}
    else:  # a lab value measured only for one class, like a cause of death recorded only for the dead
        f["leak"] = np.where(f["had_affair"] == "yes", rng.normal(5, 1, len(f)), np.nan)
        extra = {"leak": "numerical"}
    sch = fair.schema.to_dict()
    sch["columns"] = {**sch["columns"], **extra}
    return f, Schema.from_dict(sch)


def test_a_planted_leaky_feature_is_named(fair):
    for kind, words in (("value", "'leak' alone"), ("missingness", "'leak' its missingness alone")):
        frame, sch = _planted(fair, kind)
        shuffled = frame.sample(frac=1.0, random_state=0)
        tr, ho = shuffled.iloc[:4000], shuffled.iloc[4000:]
        aucs = single_feature_aucs(sch.coerce(tr), sch.coerce(ho), sch)
        top = aucs[0]
        assert top["feature"] == "leak" and top["kind"] == kind and top["auc"] > 0.99, aucs[:3]
        _, rec = evaluate(
            train=tr,
            holdout=ho,
            synthetic=tr.sample(1000, random_state=0),
            schema=sch,
            settings={"utility": {"models": ["hgb"]}},
        )
        assert any(words in w for w in rec["leakage_warnings"]), rec["leakage_warnings"]


def test_no_warning_on_the_real_table(fair):
    s = fair.splits()
    aucs = single_feature_aucs(s.train, s.holdout, fair.schema)
    assert aucs and all(r["auc"] < 0.99 for r in aucs)
    assert leakage_warnings(0.70, aucs) == []
    assert "TRTR AUC 0.995" in leakage_warnings(0.995, aucs)[0]
