"""Singling out, linkability and inference risks, measured with anonymeter.

Wraps ``anonymeter`` 1.1 (Giomi et al., "A Unified Framework for Quantifying
Privacy Risk in Synthetic Data", PoPETs 2023), whose three evaluators follow
the three re-identification criteria of the EU Article 29 Working Party
(Opinion 05/2014):

* **singling out** (``SinglingOutEvaluator``): predicates built from the
  synthetic table that match exactly one original record; ``univariate`` (one
  column) and ``multivariate`` (``n_cols`` columns).
* **linkability** (``LinkabilityEvaluator``): the schema's quasi-identifiers
  are split in two sets; an attack succeeds when both halves of a target have
  the same nearest synthetic record.
* **inference** (``InferenceEvaluator``): guess a sensitive column from the
  nearest synthetic record on the auxiliary columns (quasi-identifiers by
  default), once per sensitive column in the schema.

Each risk is ``(attack rate - control rate) / (1 - control rate)`` with the
holdout split as control (records the generator never saw), reported with its
Wilson interval. anonymeter warns when the attack does no better than a
random-guessing baseline ("Analysis results cannot be trusted"): we keep that
as ``below_baseline`` and the run reports it next to the risk rather than
presenting the number as meaningful.

Subgroups: ``all`` uses every training record as ``ori``; ``outliers`` (and
optionally ``typical``) restrict ``ori`` to that training subgroup and the
control to holdout records that the same rule (:mod:`attacks.targets`) puts in
the subgroup. Records enter anonymeter only in memory; nothing here logs values.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError

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
    warnings: list[str] = field(default_factory=list)
    seconds: float = float("nan")

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


def linkability_columns(schema: Schema) -> tuple[list[str], list[str], str]:
    """The two auxiliary column sets for the linkability attack.

    The schema's quasi-identifiers are dealt alternately into two sets (1st,
    3rd, ... and 2nd, 4th, ...), so that both halves carry some identifying
    columns: anonymeter links a target only when *both* halves have the same
    nearest synthetic record, so a half made only of common values (ties)
    cannot link even a copied record. With fewer than two quasi-identifiers,
    all modelled columns are dealt the same way.

    Returns:
        ``(cols_a, cols_b, source)`` with source ``"quasi_identifiers"`` or
        ``"all_columns"``.
    Raises:
        ConfigError: if the table has fewer than two modelled columns.
    """
    qi = [c for c in schema.quasi_identifiers if c in schema.modelled]
    source = "quasi_identifiers"
    if len(qi) < 2:
        qi, source = list(schema.modelled), "all_columns"
    if len(qi) < 2:
        raise ConfigError("linkability needs at least two columns")
    return qi[0::2], qi[1::2], source


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


def _risk(name: str, subgroup: str, evaluator: Any, n_attacks: int, confidence: float,
          earlier: list[str]) -> Risk:
    with _quiet() as caught:
        res = evaluator.results(confidence_level=confidence)
    caught = sorted({m.split(" Estimated rates")[0] for m in earlier + caught})
    r = res.risk()
    cr = res.control_rate.value if res.control_rate is not None else float("nan")
    return Risk(name=name, subgroup=subgroup, value=float(r.value), ci_low=float(r.ci[0]),
                ci_high=float(r.ci[1]), attack_rate=float(res.attack_rate.value),
                baseline_rate=float(res.baseline_rate.value), control_rate=float(cr),
                n_attacks=int(n_attacks),
                below_baseline=bool(res.baseline_rate.value >= res.attack_rate.value),
                warnings=caught)


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


@contextmanager
def _global_seed(seed: int):
    """Seed NumPy's global generator (anonymeter samples targets with it), then restore its state."""
    state = np.random.get_state()
    np.random.seed(int(seed) % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def singling_out(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, *, mode: str,
                 n_attacks: int = 500, n_cols: int = 3, max_attempts: int | None = 100_000,
                 confidence_level: float = 0.95, seed: int = 0, subgroup: str = "all") -> Risk:
    """Singling-out risk (anonymeter ``SinglingOutEvaluator``).

    Args:
        ori, syn, control: frames from :func:`prepare` (training records,
            synthetic table, holdout records).
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
    with _quiet() as caught:
        ev = SinglingOutEvaluator(ori=ori, syn=syn, control=control, n_attacks=int(n_attacks),
                                  n_cols=n_cols, max_attempts=max_attempts, seed=seed)
        ev.evaluate(mode=mode)
    return _risk(f"singling_out.{mode}", subgroup, ev, n_attacks, confidence_level, caught)


def linkability(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame,
                aux_cols: tuple[list[str], list[str]], *, n_attacks: int = 500, n_neighbors: int = 1,
                confidence_level: float = 0.95, seed: int = 0, subgroup: str = "all") -> Risk:
    """Linkability risk (anonymeter ``LinkabilityEvaluator``).

    ``n_attacks`` is capped at ``min(len(ori), len(control))`` (targets are
    drawn without replacement). anonymeter draws targets with NumPy's global
    generator, which is seeded with ``seed`` here; its random-guess baseline is
    unseeded.
    """
    from anonymeter.evaluators import LinkabilityEvaluator

    n = int(min(n_attacks, len(ori), len(control)))
    with _quiet() as caught, _global_seed(seed):
        ev = LinkabilityEvaluator(ori=ori, syn=syn, control=control, n_attacks=n,
                                  aux_cols=aux_cols, n_neighbors=int(n_neighbors))
        ev.evaluate(n_jobs=1)
    return _risk("linkability", subgroup, ev, n, confidence_level, caught)


def inference(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, secret: str,
              aux_cols: list[str], *, regression: bool, n_attacks: int = 500,
              confidence_level: float = 0.95, seed: int = 0, subgroup: str = "all") -> Risk:
    """Inference risk for one secret column (anonymeter ``InferenceEvaluator``).

    ``regression=True`` for numerical secrets: a guess is correct within 5%
    relative error (anonymeter's tolerance). Targets are drawn with NumPy's
    global generator, seeded with ``seed``.
    """
    from anonymeter.evaluators import InferenceEvaluator

    n = int(min(n_attacks, len(ori), len(control)))
    with _quiet() as caught, _global_seed(seed):
        ev = InferenceEvaluator(ori=ori, syn=syn, control=control, aux_cols=list(aux_cols), secret=secret,
                                regression=regression, n_attacks=n)
        ev.evaluate(n_jobs=1)
    return _risk(f"inference.{secret}", subgroup, ev, n, confidence_level, caught)


def anonymeter_risks(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, schema: Schema, *,
                     subgroup: str = "all", modes: Sequence[str] = MODES, so_n_attacks: int = 500,
                     so_n_cols: int = 3, so_max_attempts: int | None = 100_000,
                     link_n_attacks: int = 500, link_n_neighbors: int = 1,
                     inf_n_attacks: int = 500, inf_aux: str = "quasi_identifiers",
                     secrets: Sequence[str] | None = None, confidence_level: float = 0.95,
                     seed: int = 0, skip: Sequence[str] = ()) -> tuple[list[Risk], dict[str, str]]:
    """Every anonymeter risk for one (ori, control) pair.

    Args:
        ori: training records (or one subgroup of them), coerced to ``schema``.
        syn: the synthetic table.
        control: holdout records (the same subgroup rule), coerced to ``schema``.
        schema: gives the sensitive columns, quasi-identifiers and column kinds.
        subgroup: label stored in each :class:`Risk`.
        modes: singling-out modes to run.
        so_*, link_*, inf_*: evaluator settings (see the single functions).
        secrets: sensitive columns (default ``schema.sensitive``).
        skip: any of ``"singling_out"``, ``"linkability"``, ``"inference"``.
    Returns:
        ``(risks, errors)``: the estimates, and ``{risk name: error}`` for
        evaluators that failed (e.g. too few records in a subgroup).
    Raises:
        EmptyTableError: ``ori``, ``syn`` or ``control`` is empty.
    """
    for name, df in (("ori", ori), ("syn", syn), ("control", control)):
        if len(df) == 0:
            raise EmptyTableError(f"anonymeter ({subgroup}): the {name} table is empty")
    o, s, c = prepare(ori, schema), prepare(syn, schema), prepare(control, schema)
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
            attempt(f"singling_out.{mode}", singling_out, o, s, c, mode=mode, n_attacks=so_n_attacks,
                    n_cols=so_n_cols, max_attempts=so_max_attempts, **common)
    if "linkability" not in skip:
        a, b, _ = linkability_columns(schema)
        attempt("linkability", linkability, o, s, c, (a, b), n_attacks=link_n_attacks,
                n_neighbors=link_n_neighbors, **common)
    if "inference" not in skip:
        for secret in (schema.sensitive if secrets is None else secrets):
            if secret not in schema.modelled:
                raise ConfigError(f"inference secret {secret!r} is not a modelled column")
            attempt(f"inference.{secret}", inference, o, s, c, secret, inference_aux(schema, secret, inf_aux),
                    regression=schema.columns[secret] in ("numerical", "datetime"),
                    n_attacks=inf_n_attacks, **common)
    return risks, errors
