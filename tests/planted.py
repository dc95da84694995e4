"""Deliberately broken generators for failure-isolation tests."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bench.generators.base import BaseGenerator


class RaisingGenerator(BaseGenerator):
    """Raises during fit, as a buggy generator would."""

    name = "raising"

    def _fit(self, train: pd.DataFrame) -> None:
        raise RuntimeError("planted failure in fit")


class NaNGenerator(BaseGenerator):
    """Returns a table whose first numerical column is entirely NaN."""

    name = "nan_column"

    def _fit(self, train: pd.DataFrame) -> None:
        self.train_ = train.reset_index(drop=True)

    def _sample(self, n: int) -> pd.DataFrame:
        out = self.train_.sample(n=n, replace=True, random_state=0).reset_index(drop=True)
        out[self.schema_.numerical[0]] = np.nan
        return out


class WrongColumnsGenerator(NaNGenerator):
    """Drops a column from its output."""

    name = "wrong_columns"

    def _sample(self, n: int) -> pd.DataFrame:
        return self.train_.sample(n=n, replace=True, random_state=0).iloc[:, 1:]

    def sample(self, n: int) -> pd.DataFrame:
        return self._sample(n)


class SlowGenerator(NaNGenerator):
    """Sleeps in fit, to test run.timeout_s."""

    name = "slow"

    def __init__(self, sleep_s: float = 30.0, random_state: int | None = None) -> None:
        super().__init__(random_state=random_state)
        self.sleep_s = sleep_s

    def _fit(self, train: pd.DataFrame) -> None:
        time.sleep(self.sleep_s)
