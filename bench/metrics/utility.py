"""Downstream utility: train on synthetic, test on real (TSTR) against TRTR.

A classifier is trained on the synthetic table (TSTR) and, for reference, on
the real training split (TRTR); both are tested on the real holdout. The ratio
TSTR/TRTR of ROC AUC says how much predictive signal the synthetic table keeps.
Models: scikit-learn ``HistGradientBoostingClassifier`` (native categorical
support) and ``LogisticRegression`` (one-hot, standardised).
Source: Esteban et al. 2017 (TSTR); SDGym's ML-efficacy protocol.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bench.data.schema import Schema
from bench.errors import SchemaError

MODELS = ("hgb", "logreg")
LEAKAGE_AUC = 0.99  # a real-on-real AUC (or one feature's) at or above this is a leak, not a benchmark
MAX_NATIVE_CATEGORIES = 255  # HistGradientBoosting's limit per categorical feature


def feature_columns(schema: Schema) -> list[str]:
    """Predictors: every modelled column but the target and ``feature_exclude``."""
    return [c for c in schema.modelled if c != schema.target and c not in schema.feature_exclude]


def _prepare(frames: list[pd.DataFrame], schema: Schema, features: list[str]) -> list[pd.DataFrame]:
    """Cast categorical features to a shared pandas Categorical, datetimes to float."""
    out = [f[features].copy() for f in frames]
    for col in features:
        kind = schema.columns[col]
        if kind in ("categorical", "boolean"):
            cats = pd.Index(schema.domains.get(col, []))
            for f in out:
                cats = cats.append(pd.Index(f[col].dropna().unique()).difference(cats))
            for f in out:
                f[col] = pd.Categorical(f[col], categories=cats)
        elif kind == "datetime":
            for f in out:
                f[col] = pd.to_numeric(f[col]).astype(float)
    return out


def _model(name: str, X: pd.DataFrame, seed: int):
    cat_cols = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    num_cols = [c for c in X.columns if c not in cat_cols]
    if name == "hgb":
        native = [c for c in cat_cols if len(X[c].cat.categories) <= MAX_NATIVE_CATEGORIES]
        return HistGradientBoostingClassifier(
            categorical_features=[c in native for c in X.columns], random_state=seed
        ), native
    if name == "logreg":
        pre = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num_cols),
                (
                    "cat",
                    make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                    cat_cols,
                ),
            ]
        )
        return make_pipeline(pre, LogisticRegression(max_iter=1000, random_state=seed)), cat_cols
    raise ValueError(f"unknown utility model {name!r}; choose from {MODELS}")


def _encode_for(model_name: str, X: pd.DataFrame, native: list[str]) -> pd.DataFrame:
    if model_name != "hgb":
        return X.astype({c: object for c in native})
    X = X.copy()
    for c in X.columns:
        if isinstance(X[c].dtype, pd.CategoricalDtype):
            if c in native:
                X[c] = X[c].cat.codes.astype(float).where(X[c].notna(), np.nan)
            else:  # too many categories for native support: ordinal codes as numbers
                X[c] = X[c].cat.codes.astype(float)
    return X


def fit_score(
    train: pd.DataFrame, test: pd.DataFrame, schema: Schema, model: str = "hgb", seed: int = 0
) -> dict[str, float]:
    """Train ``model`` on ``train`` and score it on ``test``.

    Args:
        train: table with the features and the target (synthetic or real).
        test: real holdout table.
        model: ``"hgb"`` or ``"logreg"``.
    Returns:
        ``{"auc", "f1_macro", "accuracy"}``; AUC is binary ROC AUC for the
        minority class of ``test`` or one-vs-rest macro AUC for more classes.
    Raises:
        SchemaError: if the schema has no target, or ``train`` holds fewer than
            2 target classes (e.g. a collapsed synthetic table).
    """
    if schema.target is None:
        raise SchemaError(f"dataset {schema.name!r} has no target column: utility needs one")
    y_col = schema.target
    tr = train[train[y_col].notna()]
    te = test[test[y_col].notna()]
    classes_tr = sorted(tr[y_col].astype(str).unique())
    if len(classes_tr) < 2:
        raise SchemaError(
            f"the training table for utility holds {len(classes_tr)} class(es) of target "
            f"{y_col!r}; a classifier needs at least 2"
        )
    feats = feature_columns(schema)
    Xtr, Xte = _prepare([tr, te], schema, feats)
    ytr, yte = tr[y_col].astype(str).to_numpy(), te[y_col].astype(str).to_numpy()
    clf, native = _model(model, Xtr, seed)
    clf.fit(_encode_for(model, Xtr, native), ytr)
    Xte_enc = _encode_for(model, Xte, native)
    pred = clf.predict(Xte_enc)
    proba = clf.predict_proba(Xte_enc)
    classes = list(clf.classes_)
    test_classes = sorted(set(yte))
    if len(test_classes) == 2:
        counts = pd.Series(yte).value_counts()
        pos = counts.idxmin()
        score = proba[:, classes.index(pos)] if pos in classes else np.zeros(len(yte))
        auc = roc_auc_score(yte == pos, score)
    else:
        full = np.zeros((len(yte), len(test_classes)))
        for j, c in enumerate(test_classes):
            if c in classes:
                full[:, j] = proba[:, classes.index(c)]
        full = full / np.clip(full.sum(axis=1, keepdims=True), 1e-12, None)
        auc = roc_auc_score(yte, full, multi_class="ovr", labels=test_classes)
    return {
        "auc": float(auc),
        "f1_macro": float(f1_score(yte, pred, average="macro")),
        "accuracy": float(accuracy_score(yte, pred)),
    }


def constant_score(train: pd.DataFrame, test: pd.DataFrame, schema: Schema) -> dict[str, float] | None:
    """Scores of the classifier a one-class training table gives, or None if it has 2+ classes.

    Trained on a single class, any classifier predicts that class with a
    constant score, whose ROC AUC is 0.5 by definition (ties everywhere);
    F1 and accuracy are those of predicting the single class for every
    ``test`` row. A training table with no labelled row scores as a constant
    that matches no test row.

    Returns:
        ``{"auc", "f1_macro", "accuracy"}`` as :func:`fit_score`, or None.
    """
    y_col = schema.target
    classes = train[y_col].dropna().astype(str).unique() if y_col is not None else []
    if y_col is None or len(classes) >= 2:
        return None
    yte = test[y_col].dropna().astype(str).to_numpy()
    pred = np.full(len(yte), classes[0] if len(classes) else "\x00no-class", dtype=object)
    return {
        "auc": 0.5,
        "f1_macro": float(f1_score(yte, pred, average="macro")),
        "accuracy": float(accuracy_score(yte, pred)),
    }


def tstr_trtr(
    *,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    models: tuple[str, ...] | list[str] = MODELS,
    seed: int = 0,
    trtr_cache: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """TSTR and TRTR scores for each model, and the TSTR/TRTR AUC ratio.

    Args:
        train, holdout, synthetic: tables with the schema's columns (keyword-only,
            in tailbench's one data order: train, holdout, reference, synthetic).
        trtr_cache: optional dict reused across calls (TRTR depends only on the
            real splits, the model and the seed).
    Returns:
        ``{model: {"tstr_auc", "trtr_auc", "tstr_trtr_ratio", "tstr_f1_macro",
        "trtr_f1_macro", "tstr_accuracy", "trtr_accuracy"}}``. A synthetic
        table whose target holds one class (a DP or collapsed generator can
        lose the minority class) is scored as the constant classifier it
        trains (:func:`constant_score`: AUC 0.5), not dropped, so that means
        over seeds are not biased upward by the runs that failed worst.
    """
    out: dict[str, Any] = {}
    one_class = constant_score(synthetic, holdout, schema)
    for m in models:
        key = f"{m}:{seed}"
        if trtr_cache is not None and key in trtr_cache:
            trtr = trtr_cache[key]
        else:
            trtr = fit_score(train, holdout, schema, m, seed)
            if trtr_cache is not None:
                trtr_cache[key] = trtr
        tstr = fit_score(synthetic, holdout, schema, m, seed) if one_class is None else one_class
        res = {f"tstr_{k}": v for k, v in tstr.items()}
        res.update({f"trtr_{k}": v for k, v in trtr.items()})
        res["tstr_trtr_ratio"] = tstr["auc"] / trtr["auc"] if trtr["auc"] > 0 else float("nan")
        out[m] = res
    return out


def single_feature_aucs(train: pd.DataFrame, test: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    """How well each feature alone, and its missingness alone, predicts the target (real rows only).

    For each feature a one-feature score is learnt on ``train`` (a categorical
    value's target rate, with unseen categories at the overall rate; a
    numerical value itself) and its ROC AUC taken on ``test`` as
    ``max(AUC, 1 - AUC)``; a feature with missing values also gets the AUC of
    its missingness indicator. Binary targets only (the minority class of
    ``test`` is positive); other targets return [].

    Returns:
        ``[{"feature", "kind" ("value" or "missingness"), "auc"}]``, sorted by AUC, highest first.
    Source: the single-feature leakage screen of Kaufman et al., "Leakage in
        data mining" (ACM TKDD 2012).
    """
    if schema.target is None:
        return []
    y_col = schema.target
    tr, te = train[train[y_col].notna()], test[test[y_col].notna()]
    classes = te[y_col].astype(str).value_counts()
    if len(classes) != 2 or tr[y_col].nunique() < 2:
        return []
    pos = classes.idxmin()
    ytr, yte = (tr[y_col].astype(str) == pos).to_numpy(), (te[y_col].astype(str) == pos).to_numpy()

    def auc(score: np.ndarray) -> float:
        a = float(roc_auc_score(yte, score))
        return max(a, 1.0 - a)

    out = []
    for col in feature_columns(schema):
        kind = schema.columns[col]
        if kind in ("categorical", "boolean"):
            key_tr = tr[col].astype(object).where(tr[col].notna(), "\x00<NA>").astype(str)
            key_te = te[col].astype(object).where(te[col].notna(), "\x00<NA>").astype(str)
            rate = pd.Series(ytr, index=key_tr.index).groupby(key_tr).mean()
            score = key_te.map(rate).fillna(float(ytr.mean())).to_numpy(dtype=float)
        else:
            v = pd.to_numeric(te[col], errors="coerce") if kind == "numerical" else pd.to_numeric(te[col])
            med = float(pd.to_numeric(tr[col], errors="coerce").median()) if kind == "numerical" else 0.0
            score = v.fillna(med).to_numpy(dtype=float)
        if np.unique(score).size > 1:
            out.append({"feature": col, "kind": "value", "auc": auc(score)})
        miss_tr, miss_te = tr[col].isna().to_numpy(), te[col].isna().to_numpy()
        if miss_tr.any() and miss_te.any() and not miss_te.all():
            out.append({"feature": col, "kind": "missingness", "auc": auc(miss_te.astype(float))})
    return sorted(out, key=lambda r: -r["auc"])


def leakage_warnings(trtr_auc: float, aucs: list[dict[str, Any]], threshold: float = LEAKAGE_AUC) -> list[str]:
    """Warnings, in words naming the feature, when the real data predicts its target too well to benchmark.

    A TRTR AUC or a single feature's AUC at or above ``threshold`` usually
    means the target leaks into the features (a column derived from it, or a
    missingness pattern that encodes it): TSTR/TRTR is then meaningless.
    """
    out = []
    if trtr_auc == trtr_auc and trtr_auc >= threshold:
        out.append(
            f"TRTR AUC {trtr_auc:.3f} >= {threshold}: the target is (almost) a function of the features; "
            "TSTR/TRTR measures little"
        )
    for r in aucs:
        if r["auc"] >= threshold:
            what = "its missingness alone" if r["kind"] == "missingness" else "alone"
            out.append(
                f"feature {r['feature']!r} {what} predicts the target with AUC {r['auc']:.3f} on the real "
                "holdout: a leak (exclude it with schema.feature_exclude, or check how it was derived)"
            )
    return out
