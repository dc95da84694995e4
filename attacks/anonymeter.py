"""Singling out, linkability and inference risks, measured with anonymeter.

Wraps ``anonymeter`` 1.1 (Giomi et al., "A Unified Framework for Quantifying
Privacy Risk in Synthetic Data", PoPETs 2023), whose three evaluators follow
the three re-identification criteria of the EU Article 29 Working Party
(Opinion 05/2014):

* **singling out** (``SinglingOutEvaluator``): predicates built from the
  synthetic table that match exactly one original record; ``univariate`` (one
  column) and ``multivariate`` (``n_cols`` columns).
* **linkability** (``LinkabilityEvaluator``): the modelled columns are dealt
  into two informative halves (:func:`linkability_columns`); an attack
  succeeds when the ``n_neighbors`` nearest synthetic records of the two
  halves of a target share a record.
* **inference** (``InferenceEvaluator``): guess a sensitive column from the
  nearest synthetic record on the auxiliary columns (quasi-identifiers by
  default), once per sensitive column in the schema.

Each risk is ``(attack rate - control rate) / (1 - control rate)`` with the
holdout split as control (records the generator never saw), reported with its
Wilson interval. ``ori`` and ``control`` are cut to the same size (a seeded
random draw from the larger): with unequal sizes anonymeter's singling-out
evaluator extrapolates the control's success rate to the size of ``ori``
(``fit_correction_term``), which put the negative controls (Faker,
independent) above zero with intervals that excluded it. anonymeter warns when the attack does no better than a
random-guessing baseline ("Analysis results cannot be trusted"): we keep that
as ``below_baseline`` and the run reports it next to the risk rather than
presenting the number as meaningful.

Subgroups: ``all`` uses every training record as ``ori``; ``outliers`` (and
optionally ``typical``) restrict ``ori`` to that training subgroup and the
control to holdout records that the same rule (:mod:`attacks.targets`) puts in
the subgroup. Records enter anonymeter only in memory; nothing here logs values.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError

log = logging.getLogger(__name__)

MISSING = "<NA>"  # categorical missing values become this category (anonymeter label-encodes)
MODES = ("univariate", "multivariate")


@dataclass
class Risk:
    """One anonymeter risk estimate.

    Attributes:
        name: ``singling_out.univariate``, ``singling_out.multivariate``,
            ``linkability`` or ``inference.<column>``.
        subgroup: ``all``, ``outliers`` or ``typical``.
        value, ci_low, ci_high: risk in [0, 1] and its interval.
        attack_rate, baseline_rate, control_rate: success rates of the main,
            random-guessing and control attacks.
        n_attacks: attacks run against ``ori``.
        n_queries: singling-out predicates anonymeter could generate from
            the synthetic table (``n_attacks`` for the other risks); fewer
            than ``n_attacks`` means the risk is underestimated.
        below_baseline: the attack did no better than random guessing
            (anonymeter: "results cannot be trusted").
        warnings: anonymeter's warning messages (no record values).
        seconds: wall-clock time of the evaluation.
    """

    name: str
    subgroup: str
    value: float
    ci_low: float
    ci_high: float
    attack_rate: float
    baseline_rate: float
    control_rate: float
    n_attacks: int
    below_baseline: bool
    n_queries: int = -1
    warnings: list[str] = field(default_factory=list)
    seconds: float = float("nan")

    @property
    def few_queries(self) -> bool:
        """anonymeter generated fewer predicates than attacks: the risk is an underestimate."""
        return 0 <= self.n_queries < self.n_attacks

    @property
    def null_se(self) -> float:
        """Standard error of the risk when the attack does no better than the control.

        Both rates then estimate the control's rate ``c`` (records the
        generator never saw: it does not depend on how much the generator
        leaks) from ``n_attacks`` attacks each, and the residual
        ``(a - c) / (1 - c)`` has ``SE = sqrt(2 c (1 - c) / n) / (1 - c)``
        (anonymeter's error propagation at ``a = c``).
        """
        c = min(self.control_rate, 1.0 - 1e-9)
        return math.sqrt(2.0 * c * (1.0 - c) / max(self.n_attacks, 1)) / (1.0 - c)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def prepare(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The modelled columns in the dtypes anonymeter expects.

    Numerical columns stay numeric (float64), datetimes become seconds since
    the epoch, categorical/boolean columns become strings with missing values
    as the category ``"<NA>"`` (anonymeter label-encodes categories and
    cannot sort a mix of strings and NaN).
    """
    out = {}
    for col in schema.modelled:
        kind = schema.columns[col]
        s = frame[col]
        if kind == "numerical":
            out[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif kind == "datetime":
            v = s.astype("int64").astype("float64") / 1e9
            out[col] = v.where(s.notna())
        else:
            out[col] = s.astype(object).where(s.notna(), MISSING).astype(str)
    return pd.DataFrame(out, index=frame.index)


LINK_SOURCES = ("all_columns", "quasi_identifiers")


def linkability_columns(
    schema: Schema, population: pd.DataFrame | None = None, source: str = "all_columns"
) -> tuple[list[str], list[str], str]:
    """The two auxiliary column sets for the linkability attack.

    The candidate columns (every modelled column, or the schema's
    quasi-identifiers with ``source="quasi_identifiers"`` when at least four
    are declared) are sorted by their number of distinct values in
    ``population`` (the attacker's reference sample; schema order without it)
    and dealt alternately, 1st, 3rd, ... to one half and 2nd, 4th, ... to the
    other, so that each half holds high-cardinality columns, as in
    anonymeter's own Adult example. A half made of a few common values ties
    with many synthetic records and cannot link even a copied record: the
    earlier quasi-identifier split gave the identity generator a risk of 0.000
    on fair.

    Returns:
        ``(cols_a, cols_b, source)`` with the source actually used.
    Raises:
        ConfigError: unknown ``source``, or fewer than two modelled columns.
    """
    if source not in LINK_SOURCES:
        raise ConfigError(f"attacks.anonymeter.linkability.columns must be one of {LINK_SOURCES}, got {source!r}")
    cols = list(schema.modelled)
    qi = [c for c in schema.quasi_identifiers if c in schema.modelled]
    if source == "quasi_identifiers" and len(qi) >= 4:
        cols = qi
    else:
        source = "all_columns"
    if len(cols) < 2:
        raise ConfigError("linkability needs at least two columns")
    if population is not None:
        card = {c: int(population[c].nunique(dropna=False)) for c in cols}
        cols = sorted(cols, key=lambda c: -card[c])  # stable: ties keep schema order
    return cols[0::2], cols[1::2], source


def inference_aux(schema: Schema, secret: str, aux: str = "quasi_identifiers") -> list[str]:
    """Auxiliary columns known to the inference attacker for one secret column.

    Args:
        aux: ``"quasi_identifiers"`` (the schema's, falling back to all other
            columns when none are declared) or ``"all"`` (every other column).
    Raises:
        ConfigError: unknown ``aux``.
    """
    if aux not in ("quasi_identifiers", "all"):
        raise ConfigError(f"attacks.anonymeter.inference.aux must be quasi_identifiers or all, got {aux!r}")
    others = [c for c in schema.modelled if c != secret]
    if aux == "quasi_identifiers":
        qi = [c for c in schema.quasi_identifiers if c in others]
        if qi:
            return qi
    return others


_ONLY = re.compile(r"could generate only (\d+) singling out queries")


def _risk(name: str, subgroup: str, evaluator: Any, n_attacks: int, confidence: float, earlier: list[str]) -> Risk:
    with _quiet() as caught:
        res = evaluator.results(confidence_level=confidence)
    caught = sorted({m.split(" Estimated rates")[0] for m in earlier + caught})
    found = [int(mt.group(1)) for m in caught for mt in [_ONLY.search(m)] if mt]
    n_queries = min(found) if found else int(n_attacks)
    r = res.risk()
    cr = res.control_rate.value if res.control_rate is not None else float("nan")
    return Risk(
        name=name,
        subgroup=subgroup,
        value=float(r.value),
        ci_low=float(r.ci[0]),
        ci_high=float(r.ci[1]),
        attack_rate=float(res.attack_rate.value),
        baseline_rate=float(res.baseline_rate.value),
        control_rate=float(cr),
        n_attacks=int(n_attacks),
        below_baseline=bool(res.baseline_rate.value >= res.attack_rate.value),
        n_queries=n_queries,
        warnings=caught,
    )


class _Captured(logging.Handler):
    """Collects anonymeter's log warnings (counts only, e.g. "could generate only 11 queries")."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _quiet():
    """Record anonymeter's warnings and log warnings; yields a list of their messages (filled on use)."""
    handler = _Captured()
    logger = logging.getLogger("anonymeter")
    logger.addHandler(handler)
    messages: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
            messages.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(handler)
    messages.extend(handler.messages)


@functools.cache
def _cache_gower_knn() -> bool:
    """Compile anonymeter's Gower nearest-neighbour search with numba's on-disk cache (once per process).

    anonymeter 1.1.0 jit-compiles ``mixed_types_kneighbors._nearest_neighbors``
    without ``cache=True``, so every new process (a joblib worker, each job of
    a sweep run as its own process) spends 5-10 s compiling it before its
    first linkability or inference attack. This swaps in the same Python
    function (``py_func``) compiled with ``numba.jit(nopython=True,
    nogil=True, cache=True)``: numba stores the machine code beside
    anonymeter's module (or in its user cache folder when that is read-only)
    and later processes load it in about 0.2 s. The distances and neighbours
    are the same; only where the compiled code comes from changes.

    Returns:
        True if the cached version is in place, False if numba found no
        writable cache location (anonymeter's own version is kept).
    """
    import anonymeter.evaluators  # noqa: F401  (imports mixed_types_kneighbors without a cycle)
    from anonymeter.neighbors import mixed_types_kneighbors as mtk
    from numba import jit

    try:
        mtk._nearest_neighbors = jit(nopython=True, nogil=True, cache=True)(mtk._nearest_neighbors.py_func)
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        log.debug("anonymeter's kNN stays uncached: %s", exc)
        return False
    return True


@contextmanager
def _seeded_random_links(seed: int):
    """Draw anonymeter's random-guess linkability baseline from a generator seeded with ``seed``.

    anonymeter 1.1.0's ``linkability_evaluator._random_links`` picks
    ``n_neighbors`` synthetic rows per target from ``np.random.default_rng()``
    without a seed; this swaps in the same draw (``rng.choice(n_synthetic,
    n_neighbors, replace=False)`` per target) on a seeded generator for the
    duration of one evaluation.
    """
    from anonymeter.evaluators import linkability_evaluator as le

    rng = np.random.default_rng([int(seed) % 2**32, 0x11AB])
    original = le._random_links

    def seeded(n_synthetic: int, n_attacks: int, n_neighbors: int) -> np.ndarray:
        return np.array([rng.choice(n_synthetic, size=n_neighbors, replace=False) for _ in range(n_attacks)])

    le._random_links = seeded
    try:
        yield
    finally:
        le._random_links = original


@contextmanager
def _ordered_random_queries():
    """Make anonymeter's singling-out baseline reproducible for one evaluation.

    anonymeter 1.1.0's ``singling_out_evaluator._random_queries`` draws each
    predicate's value by position from ``df[col].unique()``, whose order
    polars leaves unspecified (it changes between calls), so the seeded
    baseline rate still changed between two runs of the same seed. This
    swaps in the same draw (columns by ``rng.choice``, then anonymeter's own
    ``_random_query``) over the values in order of first occurrence.
    """
    from anonymeter.evaluators import singling_out_evaluator as soe

    original = soe._random_queries

    def ordered(df, n_queries: int, n_cols: int, rng: np.random.Generator) -> list:
        values = {col: df[col].unique(maintain_order=True).to_list() for col in df.columns}
        types = {col: soe._convert_polars_dtype(df[col].dtype) for col in df.columns}
        return [
            soe._random_query(
                unique_values=values,
                cols=rng.choice(df.columns, size=n_cols, replace=False).tolist(),
                column_types=types,
                rng=rng,
            )
            for _ in range(n_queries)
        ]

    soe._random_queries = ordered
    try:
        yield
    finally:
        soe._random_queries = original


@contextmanager
def _global_seed(seed: int):
    """Seed NumPy's global generator (anonymeter samples targets with it), then restore its state."""
    state = np.random.get_state()
    np.random.seed(int(seed) % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def singling_out(
    ori: pd.DataFrame,
    syn: pd.DataFrame,
    control: pd.DataFrame,
    *,
    mode: str,
    n_attacks: int = 500,
    n_cols: int = 3,
    max_attempts: int | None = 100_000,
    confidence_level: float = 0.95,
    seed: int = 0,
    subgroup: str = "all",
) -> Risk:
    """Singling-out risk (anonymeter ``SinglingOutEvaluator``).

    Args:
        ori, syn, control: frames from :func:`prepare` (training records,
            synthetic table, holdout records). anonymeter counts distinct
            records, so the distinct records of ``ori`` and ``control`` are
            cut to one size (:func:`equal_sizes`) and its control-size
            correction never runs.
        mode: ``"univariate"`` or ``"multivariate"``.
        n_attacks: singling-out predicates generated from ``syn``.
        n_cols: columns per multivariate predicate (capped at the number of columns).
        max_attempts: cap on predicate-generation attempts.
    Returns:
        A :class:`Risk` named ``singling_out.<mode>``.
    Raises:
        ConfigError: unknown mode.
    """
    from anonymeter.evaluators import SinglingOutEvaluator

    if mode not in MODES:
        raise ConfigError(f"attacks.anonymeter.singling_out.modes: unknown mode {mode!r}; use {MODES}")
    n_cols = min(int(n_cols), syn.shape[1])
    # anonymeter evaluates predicates on the *distinct* records of ori and control and, when their
    # counts differ, rescales the control's successes by a size model fitted on 50 re-evaluations of
    # every predicate; cut the distinct records to one size instead (the comparison equal_sizes promises)
    ori, control = equal_sizes(ori.drop_duplicates(), control.drop_duplicates(), seed)
    with _quiet() as caught, _ordered_random_queries():
        ev = SinglingOutEvaluator(
            ori=ori,
            syn=syn,
            control=control,
            n_attacks=int(n_attacks),
            n_cols=n_cols,
            max_attempts=max_attempts,
            seed=seed,
        )
        ev.evaluate(mode=mode)
    return _risk(f"singling_out.{mode}", subgroup, ev, n_attacks, confidence_level, caught)


def linkability(
    ori: pd.DataFrame,
    syn: pd.DataFrame,
    control: pd.DataFrame,
    aux_cols: tuple[list[str], list[str]],
    *,
    n_attacks: int = 500,
    n_neighbors: int = 10,
    confidence_level: float = 0.95,
    seed: int = 0,
    subgroup: str = "all",
) -> Risk:
    """Linkability risk (anonymeter ``LinkabilityEvaluator``).

    ``n_attacks`` is capped at ``min(len(ori), len(control))`` (targets are
    drawn without replacement). anonymeter draws targets with NumPy's global
    generator, which is seeded with ``seed`` here. Its random-guess baseline
    (``_random_links``) draws from an unseeded ``default_rng()``, so whether a
    run is marked "no better than the baseline" changed between two runs of
    the same seed; :func:`_seeded_random_links` gives it a generator seeded
    from ``seed`` (same draws, reproducible).
    """
    from anonymeter.evaluators import LinkabilityEvaluator

    _cache_gower_knn()
    n = int(min(n_attacks, len(ori), len(control)))
    with _quiet() as caught, _global_seed(seed), _seeded_random_links(seed):
        ev = LinkabilityEvaluator(
            ori=ori, syn=syn, control=control, n_attacks=n, aux_cols=aux_cols, n_neighbors=int(n_neighbors)
        )
        ev.evaluate(n_jobs=1)
    return _risk("linkability", subgroup, ev, n, confidence_level, caught)


def inference(
    ori: pd.DataFrame,
    syn: pd.DataFrame,
    control: pd.DataFrame,
    secret: str,
    aux_cols: list[str],
    *,
    regression: bool,
    n_attacks: int = 500,
    confidence_level: float = 0.95,
    seed: int = 0,
    subgroup: str = "all",
) -> Risk:
    """Inference risk for one secret column (anonymeter ``InferenceEvaluator``).

    ``regression=True`` for numerical secrets: a guess is correct within 5%
    relative error (anonymeter's tolerance). Targets are drawn with NumPy's
    global generator, seeded with ``seed``.
    """
    from anonymeter.evaluators import InferenceEvaluator

    _cache_gower_knn()
    n = int(min(n_attacks, len(ori), len(control)))
    with _quiet() as caught, _global_seed(seed):
        ev = InferenceEvaluator(
            ori=ori,
            syn=syn,
            control=control,
            aux_cols=list(aux_cols),
            secret=secret,
            regression=regression,
            n_attacks=n,
        )
        ev.evaluate(n_jobs=1)
    return _risk(f"inference.{secret}", subgroup, ev, n, confidence_level, caught)


def equal_sizes(ori: pd.DataFrame, control: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut the larger of ``ori`` and ``control`` to the smaller's size (seeded draw without replacement).

    With equal sizes a generator that ignores who was a member has the same
    expected success rate on both, so the risk's null is 0 without
    anonymeter's size extrapolation.
    """
    n = min(len(ori), len(control))
    rng = np.random.default_rng([int(seed), 0xA707])

    def cut(df: pd.DataFrame) -> pd.DataFrame:
        return df if len(df) == n else df.iloc[np.sort(rng.choice(len(df), size=n, replace=False))]

    return cut(ori), cut(control)


def anonymeter_risks(
    *,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    subgroup: str = "all",
    modes: Sequence[str] = ("multivariate",),
    so_n_attacks: int = 500,
    so_n_cols: int = 3,
    so_max_attempts: int | None = 100_000,
    link_n_attacks: int = 500,
    link_n_neighbors: int = 10,
    link_columns: tuple[list[str], list[str]] | None = None,
    inf_n_attacks: int = 500,
    inf_aux: str = "quasi_identifiers",
    secrets: Sequence[str] | None = None,
    confidence_level: float = 0.95,
    seed: int = 0,
    skip: Sequence[str] = (),
) -> tuple[list[Risk], dict[str, str]]:
    """Every anonymeter risk for one (ori, control) pair.

    Args:
        train: training records (anonymeter's ``ori``; or one subgroup of them), coerced to ``schema``.
        holdout: non-member records (anonymeter's ``control``; the same subgroup rule).
            ``train`` and ``holdout`` are cut to equal size first (:func:`equal_sizes`).
        synthetic: the synthetic table.
        schema: gives the sensitive columns, quasi-identifiers and column kinds.
        subgroup: label stored in each :class:`Risk`.
        modes: singling-out modes to run.
        so_*, link_*, inf_*: evaluator settings (see the single functions);
            ``link_columns`` defaults to :func:`linkability_columns` of the schema.
        secrets: sensitive columns (default ``schema.sensitive``).
        skip: any of ``"singling_out"``, ``"linkability"``, ``"inference"``.
    Returns:
        ``(risks, errors)``: the estimates, and ``{risk name: error}`` for
        evaluators that failed (e.g. too few records in a subgroup).
    Raises:
        EmptyTableError: ``train``, ``holdout`` or ``synthetic`` is empty.
    """
    for name, df in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        if len(df) == 0:
            raise EmptyTableError(f"anonymeter ({subgroup}): the {name} table is empty")
    ori, control = equal_sizes(train, holdout, seed)
    o, s, c = prepare(ori, schema), prepare(synthetic, schema), prepare(control, schema)
    risks: list[Risk] = []
    errors: dict[str, str] = {}

    def attempt(name: str, fn, *args, **kw) -> None:
        t0 = time.perf_counter()
        try:
            r = fn(*args, **kw)
            r.seconds = time.perf_counter() - t0
            risks.append(r)
        except (ValueError, RuntimeError, KeyError, IndexError) as exc:
            errors[f"{name}[{subgroup}]"] = f"{type(exc).__name__}: {exc}"

    common = {"confidence_level": confidence_level, "seed": seed, "subgroup": subgroup}
    if "singling_out" not in skip:
        for mode in modes:
            attempt(
                f"singling_out.{mode}",
                singling_out,
                o,
                s,
                c,
                mode=mode,
                n_attacks=so_n_attacks,
                n_cols=so_n_cols,
                max_attempts=so_max_attempts,
                **common,
            )
    if "linkability" not in skip:
        a, b = link_columns if link_columns is not None else linkability_columns(schema)[:2]
        attempt(
            "linkability",
            linkability,
            o,
            s,
            c,
            (a, b),
            n_attacks=link_n_attacks,
            n_neighbors=link_n_neighbors,
            **common,
        )
    if "inference" not in skip:
        for secret in schema.sensitive if secrets is None else secrets:
            if secret not in schema.modelled:
                raise ConfigError(f"inference secret {secret!r} is not a modelled column")
            attempt(
                f"inference.{secret}",
                inference,
                o,
                s,
                c,
                secret,
                inference_aux(schema, secret, inf_aux),
                regression=schema.columns[secret] in ("numerical", "datetime"),
                n_attacks=inf_n_attacks,
                **common,
            )
    return risks, errors
