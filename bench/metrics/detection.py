"""Detection: can a classifier tell synthetic rows from real ones?

A cross-validated gradient-boosting two-sample test (ROC AUC, 0.5 =
indistinguishable) and SDMetrics' ``LogisticDetection`` (equal to sdmetrics).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from bench.data.schema import Schema
from bench.metrics.intervals import normal_interval


def balanced_sample(
    real: pd.DataFrame, synthetic: pd.DataFrame, max_rows: int | None, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up to ``max_rows`` rows of each table (seeded, without replacement), equal sizes.

    Args:
        real, synthetic: tables (n, d), (m, d).
        max_rows: cap per table; None = min(n, m).
    Returns:
        ``(real_sample, synthetic_sample)``, each of min(n, m, max_rows) rows.
    """
    k = min(len(real), len(synthetic), int(max_rows) if max_rows else len(real) + len(synthetic))
    rng = np.random.default_rng(seed)
    r = real if k == len(real) else real.iloc[np.sort(rng.choice(len(real), k, replace=False))]
    s = synthetic if k == len(synthetic) else synthetic.iloc[np.sort(rng.choice(len(synthetic), k, replace=False))]
    return r, s


def _detection_features(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, list[bool]]:
    """Stack both tables for a tree model: categories as shared integer codes."""
    X = pd.concat([real[schema.modelled], synthetic[schema.modelled]], ignore_index=True)
    native = []
    for col in schema.modelled:
        kind = schema.columns[col]
        if kind in ("categorical", "boolean"):
            codes, uniq = pd.factorize(X[col])
            X[col] = np.where(codes < 0, np.nan, codes).astype(float)
            native.append(len(uniq) <= 255)  # HistGradientBoosting's native limit; else ordinal
        elif kind == "datetime":
            X[col] = pd.to_numeric(X[col]).astype(float).where(X[col].notna())
            native.append(False)
        else:
            X[col] = X[col].astype(float)
            native.append(False)
    return X, native


def auc_from_scores(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half.

    Args:
        y: labels (n,), 1 = positive.
        score: scores (n,), higher = more positive.
    Returns:
        AUC in [0, 1]; NaN if either class is absent.
    Source: Hanley & McNeil (1982); equals sklearn.metrics.roc_auc_score.
    """
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_auc(
    y: np.ndarray, score: np.ndarray, n_boot: int = 200, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of the ROC AUC (each class resampled separately; normal interval).

    Returns:
        ``(low, high)`` within [0, 1]; NaNs when ``n_boot`` < 2.
    """
    if not n_boot or n_boot < 2:
        return float("nan"), float("nan")
    y = np.asarray(y).astype(bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    rng = np.random.default_rng(seed)
    lab = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    vals = []
    for _ in range(int(n_boot)):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        vals.append(auc_from_scores(lab, score[idx]))
    return normal_interval(auc_from_scores(y, score), vals, level, 0.0, 1.0)


def detection_auc(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    *,
    max_rows: int | None = 10_000,
    folds: int = 5,
    seed: int = 0,
    n_bootstrap: int = 200,
) -> dict[str, Any]:
    """Classifier two-sample test: can gradient boosting tell synthetic rows from real ones?

    A balanced sample of real (label 0) and synthetic (label 1) rows is scored
    by ``folds``-fold stratified cross-validation with scikit-learn's
    ``HistGradientBoostingClassifier`` (native categorical support); the ROC AUC
    of the pooled out-of-fold probabilities is the statistic. Rows with
    identical values are kept in one fold (``StratifiedGroupKFold``), so a
    copied real row cannot be "recognised" through its twin in the training
    folds.

    Args:
        real: real training table (n, d); synthetic: (m, d).
        max_rows: rows drawn from each table (the smaller table bounds it).
        folds: cross-validation folds.
        seed: sampling, fold and model seed.
        n_bootstrap: bootstrap replicates of the out-of-fold AUC for the interval.
    Returns:
        ``{"auc", "ci_low", "ci_high", "fold_auc": [per fold], "n_per_class"}``;
        AUC 0.5 = indistinguishable, 1 = every synthetic row is recognised.
    Raises:
        ValueError: if either table has fewer than ``folds`` rows.
    Source: classifier two-sample test (Lopez-Paz & Oquab 2017); the
        "detection" metric of SDMetrics / synthcity, here with gradient boosting
        and the AUC reported as is (not 1 - AUC).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedGroupKFold

    r, s = balanced_sample(real, synthetic, max_rows, seed)
    if len(r) < folds:
        raise ValueError(f"detection needs at least {folds} rows per table, got {len(r)}")
    X, native = _detection_features(r, s, schema)
    y = np.r_[np.zeros(len(r), int), np.ones(len(s), int)]
    # Identical rows share a fold: otherwise a test row's copy in the other class
    # sits in the training folds and the classifier becomes anti-predictive
    # (AUC far below 0.5 for the identity generator).
    groups = pd.util.hash_pandas_object(X, index=False).to_numpy()
    oof = np.zeros(len(y))
    fold_auc = []
    cv = StratifiedGroupKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    for tr, te in cv.split(X, y, groups):
        clf = HistGradientBoostingClassifier(categorical_features=native, random_state=seed)
        clf.fit(X.iloc[tr], y[tr])
        oof[te] = clf.predict_proba(X.iloc[te])[:, 1]
        fold_auc.append(auc_from_scores(y[te], oof[te]))
    auc = auc_from_scores(y, oof)
    lo, hi = bootstrap_auc(y, oof, n_bootstrap, seed=seed)
    return {"auc": auc, "ci_low": lo, "ci_high": hi, "fold_auc": fold_auc, "n_per_class": len(r)}


def logistic_detection(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, seed: int = 0) -> float:
    """SDMetrics' LogisticDetection score, with an explicit seed.

    Same steps as ``sdmetrics.single_table.LogisticDetection.compute``:
    numerical columns filled with the real mean, categorical columns one-hot
    encoded on the real categories (sdmetrics' HyperTransformer), real = 1 and
    synthetic = 0, 3-fold shuffled stratified CV of SimpleImputer +
    RobustScaler + LogisticRegression(lbfgs), score = 1 - mean over folds of
    (2 * max(AUC, 0.5) - 1). Differences: the folds use
    ``np.random.RandomState(seed)`` instead of NumPy's global RNG (so
    ``np.random.seed(seed)`` before sdmetrics gives the same value), and a
    synthetic category absent from the real table is encoded as all zeros
    instead of raising.

    Args:
        real: real table (n, d); synthetic: (m, d); ``id`` columns are dropped.
    Returns:
        Score in [0, 1]; 1 = the classifier cannot tell the tables apart.
    Source: sdmetrics.single_table.LogisticDetection (0.32).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, RobustScaler

    plain_r, plain_s, hot_r, hot_s = [], [], [], []
    for col in schema.modelled:
        kind = schema.columns[col]
        if kind in ("categorical", "boolean"):
            enc = OneHotEncoder(handle_unknown="ignore").fit(pd.DataFrame({"field": real[col]}))
            hot_r.append(enc.transform(pd.DataFrame({"field": real[col]})).toarray())
            hot_s.append(enc.transform(pd.DataFrame({"field": synthetic[col]})).toarray())
            continue
        if kind == "datetime":
            xr = pd.to_numeric(real[col]).to_numpy(float)
            xr[real[col].isna().to_numpy()] = np.nan
            xs = pd.to_numeric(synthetic[col]).to_numpy(float)
            xs[synthetic[col].isna().to_numpy()] = np.nan
            mean = pd.Series(xr).mean()
        else:
            xr = real[col].to_numpy(float)
            xs = synthetic[col].to_numpy(float)
            mean = real[col].mean()
        plain_r.append(np.where(np.isnan(xr), mean, xr))
        plain_s.append(np.where(np.isnan(xs), mean, xs))
    Xr = np.column_stack(plain_r + hot_r) if plain_r or hot_r else np.empty((len(real), 0))
    Xs = np.column_stack(plain_s + hot_s) if plain_s or hot_s else np.empty((len(synthetic), 0))
    X = np.concatenate([Xr, Xs]).astype(float)
    y = np.hstack([np.ones(len(Xr)), np.zeros(len(Xs))])
    X[np.isinf(X)] = np.nan
    scores = []
    kf = StratifiedKFold(n_splits=3, shuffle=True, random_state=np.random.RandomState(seed))
    for tr, te in kf.split(X, y):
        model = Pipeline(
            [
                ("imputer", SimpleImputer()),
                ("scalar", RobustScaler()),
                ("classifier", LogisticRegression(solver="lbfgs")),
            ]
        )
        with warnings.catch_warnings():  # SDMetrics' settings stop lbfgs at 100 iterations
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X[tr], y[tr])
        auc = roc_auc_score(y[te], model.predict_proba(X[te])[:, 1])
        scores.append(max(0.5, auc) * 2 - 1)
    return float(1 - np.mean(scores))
