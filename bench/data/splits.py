"""Fixed, seeded, stratified splits shared by every metric and attack.

``train`` is what a generator sees (membership-inference members); ``holdout``
is the TSTR test set, the MIA non-members and anonymeter's control set;
``reference`` is the attacker's population knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split

from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError

MIN_ROWS = 50


@dataclass
class Splits:
    """Three disjoint parts of one table; each keeps the table's row ids as index."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    reference: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "holdout": len(self.holdout), "reference": len(self.reference)}


def make_splits(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    train: float = 0.6,
    holdout: float = 0.2,
    reference: float = 0.2,
    seed: int = 0,
) -> Splits:
    """Split ``frame`` into train/holdout/reference, stratified on the target.

    Args:
        frame: (n, d) table coerced to ``schema``.
        train, holdout, reference: fractions, positive, summing to 1.
        seed: split seed, fixed per dataset (independent of the generator seed).
    Returns:
        :class:`Splits` with about ``train*n``, ``holdout*n``, ``reference*n`` rows.
    Raises:
        EmptyTableError: if the table has fewer than 50 rows.
        ConfigError: if a fraction is not positive or they do not sum to 1.
    """
    fracs = {"train": train, "holdout": holdout, "reference": reference}
    for k, v in fracs.items():
        if not (isinstance(v, (int, float)) and 0 < float(v) < 1):
            raise ConfigError(f"dataset.split.{k} must be a fraction in (0, 1), got {v!r}")
    if abs(sum(fracs.values()) - 1.0) > 1e-6:
        raise ConfigError(f"dataset.split fractions must sum to 1, got {sum(fracs.values()):.4f}")
    if len(frame) < MIN_ROWS:
        raise EmptyTableError(
            f"dataset {schema.name!r} has {len(frame)} rows; tailbench needs at least {MIN_ROWS} "
            "to make train/holdout/reference splits"
        )
    strat = _stratifier(frame, schema)
    rest_frac = holdout + reference
    tr, rest = train_test_split(frame, test_size=rest_frac, random_state=seed, stratify=strat)
    strat_rest = _stratifier(rest, schema)
    ho, ref = train_test_split(rest, test_size=reference / rest_frac, random_state=seed + 1, stratify=strat_rest)
    return Splits(train=tr.sort_index(), holdout=ho.sort_index(), reference=ref.sort_index())


def _stratifier(frame: pd.DataFrame, schema: Schema) -> pd.Series | None:
    """The target column if every class has at least 3 rows, else None."""
    if schema.target is None:
        return None
    y = frame[schema.target].fillna("<NA>")
    return y if y.value_counts().min() >= 3 else None
