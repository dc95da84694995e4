"""Model collapse: what a generator loses when it is trained on its own output.

Recursive training on generated data loses the tail first (Shumailov et al.,
"AI models collapse when trained on recursively generated data", Nature 2024);
keeping real data in the loop arrests it (accumulate: Gerstgrasser et al.,
"Is Model Collapse Inevitable?", 2024; a real anchor fraction: Bertrand et al.,
"On the Stability of Iterative Retraining of Generative Models on their own
Data", ICLR 2024). This module measures it on the user's own table and
generator.

Generations. Table 0 is the real training split. The model of round 0 trains
on the real training split and samples table 1; the model of round t trains on
data built from tables 0..t and samples table t+1. Each synthetic table has
``n`` rows. The data a round trains on depends on the mode:

* ``replace``: only the previous generation's synthetic table;
* ``accumulate``: everything so far, real train + every synthetic table;
* ``accumulate_subsample``: ``n`` rows drawn without replacement from that
  accumulated pool;
* ``anchor``: ``int(n (1 - f))`` rows of the previous synthetic table plus
  ``n - int(n (1 - f))`` real rows, either fresh draws each round from the
  real train split (``anchor_pool=train``) or the reference split
  (``reference``, disjoint from the holdout and from train), or one fixed
  subset of train drawn once (``fixed``).

Round 0 is the same for every mode (same seed, same real data), so the loss at
generation 1 (model mismatch and estimation error) is reported apart from the
drift after it (what recursion adds): ``gen1_change = v(1) - v(0)`` and
``drift = v(G) - v(1)`` for every metric ``v``.

Per generation, every table is scored against the real train split: tail
metrics of :mod:`bench.tails` (rare-category retention by real count bin, with
the lost categories by name; tail mass ratio; variance ratio), SDMetrics-equal
column shapes and pair trends (:func:`bench.fidelity.quality_scores`), TSTR on
the real holdout (:func:`bench.utility.tstr_trtr`) and the distance to the
closest real training record (:func:`dcr`, SDMetrics' definition). Table 0 is
the real train split scored against itself (retention 1, ratios 1, TSTR =
TRTR), except DCR, whose generation-0 value is that of the real holdout (a
fresh real sample), since every training row is at distance 0 from itself.

Also here: the 1-D toy check (:func:`toy_collapse`, :func:`toy_expected`);
``python -m bench.collapse toy`` prints it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from bench import __version__
from bench.data.schema import Schema
from bench.errors import ConfigError
from bench.fidelity import RealProfile, quality_scores
from bench.results import atomic_write_parquet, metric, write_run
from bench.tails import COUNT_BINS, rare_categories, rare_category_retention, tail_mass_ratio, variance_ratio
from bench.utility import tstr_trtr

log = logging.getLogger("tailbench")

MODES = ("replace", "accumulate", "accumulate_subsample", "anchor")
ANCHOR_POOLS = ("train", "reference", "fixed")
METRIC_GROUPS = ("tails", "fidelity", "utility", "dcr")
COLLAPSE_COLUMNS = ["dataset", "generator", "mode", "anchor_fraction", "seed", "generation",
                    "metric", "value"]

# The metrics a report should plot first (collapse.parquet also holds per-bin and
# per-column values, e.g. ``tails.rare_category_retention.count_1``,
# ``tails.variance_ratio_raw.age``);
# collapse.parquet lists them first, in this order.
HEADLINE_METRICS = [
    "tails.rare_category_retention",
    "tails.tail_mass_ratio",
    "tails.variance_ratio",
    "fidelity.column_shapes",
    "utility.tstr_auc",
    "privacy.dcr_median",
    "fidelity.pair_trends_all",
]


# ------------------------------------------------------------------ settings
@dataclass
class CollapseSettings:
    """The ``collapse:`` block of the config (defaults used when a key is absent).

    Attributes:
        mode: one of :data:`MODES`.
        generations: number of synthetic generations G (tables 1..G), >= 1.
        n: rows per synthetic table; None = the size of the real train split.
        anchor_fraction: f in [0, 1), share of real rows in ``anchor`` mode.
        anchor_pool: where anchor rows come from, one of :data:`ANCHOR_POOLS`.
        rare_threshold: real relative frequency below which a category is rare.
        metrics: metric groups to compute, a subset of :data:`METRIC_GROUPS`.
        utility_models: TSTR models (``hgb``, ``logreg``).
        dcr_rows: synthetic rows (sampled) whose DCR to the real train is computed.
        cache: reuse each generation's synthetic table from the cache directory.
    """

    mode: str = "replace"
    generations: int = 5
    n: int | None = None
    anchor_fraction: float = 0.1
    anchor_pool: str = "train"
    rare_threshold: float = 0.01
    metrics: list[str] = field(default_factory=lambda: list(METRIC_GROUPS))
    utility_models: list[str] = field(default_factory=lambda: ["hgb"])
    dcr_rows: int = 2000
    cache: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"collapse.mode={self.mode!r} is unknown; choose from {', '.join(MODES)}")
        if not isinstance(self.generations, (int, np.integer)) or int(self.generations) < 1:
            raise ConfigError(f"collapse.generations must be an integer >= 1, got {self.generations!r}")
        self.generations = int(self.generations)
        if self.n is not None:
            if not isinstance(self.n, (int, np.integer)) or int(self.n) < 2:
                raise ConfigError(f"collapse.n must be an integer >= 2 or null, got {self.n!r}")
            self.n = int(self.n)
        try:
            f = float(self.anchor_fraction)
        except (TypeError, ValueError):
            f = float("nan")
        if not 0.0 <= f < 1.0:
            raise ConfigError(f"collapse.anchor_fraction must be in [0, 1), got {self.anchor_fraction!r}")
        self.anchor_fraction = f
        if self.anchor_pool not in ANCHOR_POOLS:
            raise ConfigError(f"collapse.anchor_pool={self.anchor_pool!r} is unknown; choose from "
                              f"{', '.join(ANCHOR_POOLS)}")
        if not 0.0 < float(self.rare_threshold) < 1.0:
            raise ConfigError(f"collapse.rare_threshold must be in (0, 1), got {self.rare_threshold!r}")
        self.metrics = list(self.metrics)
        bad = [m for m in self.metrics if m not in METRIC_GROUPS]
        if bad:
            raise ConfigError(f"collapse.metrics has unknown group(s) {bad}; choose from {list(METRIC_GROUPS)}")
        self.utility_models = list(self.utility_models)
        if int(self.dcr_rows) < 1:
            raise ConfigError(f"collapse.dcr_rows must be >= 1, got {self.dcr_rows!r}")
        self.dcr_rows = int(self.dcr_rows)

    @classmethod
    def from_mapping(cls, d: Any) -> "CollapseSettings":
        """Build from a dict or DictConfig (``None`` = all defaults).

        Raises:
            ConfigError: on an unknown key or an invalid value (naming ``collapse.<key>``).
        """
        if d is None:
            return cls()
        try:
            from omegaconf import DictConfig, OmegaConf

            if isinstance(d, DictConfig):
                d = OmegaConf.to_container(d, resolve=True)
        except ImportError:  # pragma: no cover - omegaconf is a dependency
            pass
        d = dict(d)
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"collapse has unknown key(s) {unknown}; allowed: "
                              f"{sorted(cls.__dataclass_fields__)}")
        return cls(**d)

    @property
    def label(self) -> str:
        """The mode as shown in results: ``anchor_f0.1`` carries its fraction."""
        return f"anchor_f{self.anchor_fraction:g}" if self.mode == "anchor" else self.mode


# ------------------------------------------------------------ training sets
def anchor_split(n: int, anchor_fraction: float) -> tuple[int, int]:
    """``(synthetic rows, real rows)`` of an anchor training set of ``n`` rows.

    Synthetic rows = ``int(n (1 - f))`` (as in Bertrand et al.); real rows the rest.
    """
    n_syn = int(n * (1.0 - anchor_fraction) + 1e-9)
    return n_syn, n - n_syn


def training_set(mode: str, real: pd.DataFrame, synthetic: list[pd.DataFrame], *, n: int,
                 rng: np.random.Generator, anchor_fraction: float = 0.1,
                 anchor_pool: pd.DataFrame | None = None,
                 fixed_anchor: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """The table the next round's model trains on.

    Args:
        mode: one of :data:`MODES`.
        real: the real training split (n_real, d).
        synthetic: synthetic tables so far, oldest first (tables 1..t); empty
            for round 0, which trains on ``real`` in every mode.
        n: rows per generation (size of the ``accumulate_subsample`` and
            ``anchor`` training sets).
        rng: draws the subsample and the anchor rows.
        anchor_fraction: f, share of real rows in ``anchor`` mode.
        anchor_pool: real rows that fresh anchor rows are drawn from (default ``real``).
        fixed_anchor: if given, the anchor uses exactly these real rows every round.
    Returns:
        ``(table, real_rows)``: the training table (fresh RangeIndex except in
        round 0 and ``replace``) and how many of its rows are real.
    Raises:
        ConfigError: for an unknown mode.
    """
    if mode not in MODES:
        raise ConfigError(f"collapse.mode={mode!r} is unknown; choose from {', '.join(MODES)}")
    if not synthetic:
        return real, len(real)
    last = synthetic[-1]
    if mode == "replace":
        return last, 0
    if mode == "accumulate":
        return pd.concat([real, *synthetic], ignore_index=True), len(real)
    if mode == "accumulate_subsample":
        pool = pd.concat([real, *synthetic], ignore_index=True)
        idx = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
        return pool.iloc[np.sort(idx)].reset_index(drop=True), int((idx < len(real)).sum())
    n_syn, n_real = anchor_split(n, anchor_fraction)
    syn = last.iloc[rng.choice(len(last), size=n_syn, replace=n_syn > len(last))]
    if fixed_anchor is not None:
        anchor = fixed_anchor
    else:
        pool = real if anchor_pool is None else anchor_pool
        anchor = pool.iloc[rng.choice(len(pool), size=n_real, replace=n_real > len(pool))]
    return pd.concat([syn, anchor], ignore_index=True), len(anchor)


# ---------------------------------------------------------------------- DCR
def dcr(data: pd.DataFrame, reference: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Distance from each row of ``data`` to its closest row in ``reference``.

    Row distance = mean over the modelled columns of: numerical/datetime
    ``min(|a - b| / range, 1)`` with ``range`` = max - min of the reference
    column; categorical/boolean 0 if equal else 1; a value missing on one
    side only counts 1, on both sides 0. Computed in chunks
    (:func:`attacks.distance.gower_knn`), so Adult's 29k x 29k fits in memory.

    Args:
        data: (m, d) rows to measure (synthetic).
        reference: (k, d) rows to measure against (real train).
    Returns:
        float array (m,) in [0, 1]; 0 = an exact copy of a reference row.
    Raises:
        EmptyTableError: if either table is empty.
    Source: SDMetrics ``calculate_dcr``
        (sdmetrics.single_table.privacy.dcr_utils, used by DCRBaselineProtection
        and DCROverfittingProtection); a test checks equality.
    """
    from attacks.distance import gower_knn

    return gower_knn(data, reference, schema, k=1)[:, 0]


# --------------------------------------------------------------- scoring
class CollapseScorer:
    """Scores generation tables against the real train split, real side prepared once.

    Args:
        real: real train split (n, d); the reference for every metric.
        holdout: real holdout (TSTR test set; generation 0's DCR sample).
        schema: the table's schema.
        settings: which metric groups, TSTR models, DCR sample size, rarity threshold.
        seed: seeds the TSTR models and the DCR row sample.
    """

    def __init__(self, real: pd.DataFrame, holdout: pd.DataFrame, schema: Schema,
                 settings: CollapseSettings, seed: int = 0) -> None:
        self.real = real
        self.holdout = holdout
        self.schema = schema
        self.settings = settings
        self.seed = int(seed)
        self.rare = rare_categories(real, schema, settings.rare_threshold)
        self.profile = RealProfile.from_frame(real, schema) if "fidelity" in settings.metrics else None
        self.trtr_cache: dict[str, dict[str, float]] = {}

    def score(self, table: pd.DataFrame, generation: int,
              dcr_data: pd.DataFrame | None = None) -> tuple[list[tuple[str, str, float, str | None]], dict[str, Any]]:
        """All configured metrics of one generation's table.

        Args:
            table: (m, d) table of generation ``generation``.
            dcr_data: rows whose DCR to the real train is measured (default ``table``).
        Returns:
            ``(values, details)``: values are ``(family, metric, value, direction)``;
            details hold ``lost`` ([(column, category, real count)]), ``n_rare`` and
            ``errors`` ({group: message}) for groups that could not be computed.
        """
        s = self.settings
        vals: list[tuple[str, str, float, str | None]] = []
        details: dict[str, Any] = {"lost": [], "n_rare": int(len(self.rare)), "errors": {}}

        def guarded(group: str, fn: Callable[[], None]) -> None:
            if group not in s.metrics:
                return
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - one group failing keeps the others
                details["errors"][group] = f"{type(exc).__name__}: {exc}"
                log.warning("collapse generation %d: %s metrics failed: %s", generation, group,
                            details["errors"][group])

        def tails() -> None:
            ret = rare_category_retention(self.real, table, self.schema, s.rare_threshold, rare=self.rare)
            vals.append(("tails", "tails.rare_category_retention", ret["retention"], "maximize"))
            for b, _, _ in COUNT_BINS:
                if ret["n_by_bin"][b]:  # bins without rare categories are left out, not NaN
                    vals.append(("tails", f"tails.rare_category_retention.count_{b}", ret["by_bin"][b],
                                 "maximize"))
            vals.append(("tails", "tails.rare_categories_lost", float(len(ret["lost"])), "minimize"))
            details["lost"] = ret["lost"]
            # Ratios whose ideal is 1: the metric is the mean over columns of min(r, 1/r), as
            # the per-run tails family reports it; the raw ratios (direction None) keep the
            # sign of the change (< 1 shrunk, > 1 inflated) and go to collapse.parquet only.
            for key, ratios in (("tails.tail_mass_ratio", tail_mass_ratio(self.real, table, self.schema)),
                                ("tails.variance_ratio", variance_ratio(self.real, table, self.schema))):
                if not ratios:
                    continue
                raw = np.array(list(ratios.values()), dtype=float)
                vals.append(("tails", key, float(np.mean([_closeness(r) for r in raw])), "maximize"))
                vals.append(("tails", f"{key}_raw", float(np.median(raw)), None))
                vals.extend(("tails", f"{key}_raw.{c}", float(r), None) for c, r in ratios.items())

        def fidelity() -> None:
            q = quality_scores(self.profile, table)
            for k in ("column_shapes", "pair_trends", "pair_trends_all", "quality_score"):
                vals.append(("fidelity", f"fidelity.{k}", q[k], "maximize"))

        def utility() -> None:
            if self.schema.target is None:
                return
            if table[self.schema.target].nunique(dropna=True) < 2:
                # tstr_trtr scores it as the constant classifier it trains (AUC 0.5); say so.
                details["errors"]["utility"] = (f"target {self.schema.target!r} has one class in this "
                                                "generation; TSTR AUC recorded as 0.5 (constant score)")
            res = tstr_trtr(table, self.real, self.holdout, self.schema, models=s.utility_models,
                            seed=self.seed, trtr_cache=self.trtr_cache)
            for m, r in res.items():
                prefix = "utility." if m == "hgb" else f"utility.{m}."
                vals.append(("utility", prefix + "tstr_auc", r["tstr_auc"], "maximize"))
                vals.append(("utility", prefix + "tstr_trtr_ratio", r["tstr_trtr_ratio"], "maximize"))

        def distance() -> None:
            src = table if dcr_data is None else dcr_data
            rng = np.random.default_rng([self.seed, generation, 7])
            if len(src) > s.dcr_rows:
                src = src.iloc[np.sort(rng.choice(len(src), size=s.dcr_rows, replace=False))]
            d = dcr(src, self.real, self.schema)
            vals.append(("privacy", "privacy.dcr_median", float(np.median(d)), "maximize"))
            vals.append(("privacy", "privacy.exact_match_rate", float((d == 0).mean()), "minimize"))

        guarded("tails", tails)
        guarded("fidelity", fidelity)
        guarded("utility", utility)
        guarded("dcr", distance)
        return vals, details


def _closeness(r: float) -> float:
    """min(r, 1/r) of a ratio whose ideal is 1: 1 = as real, 0 = lost or infinite."""
    if np.isnan(r):
        return float("nan")
    if r <= 0 or np.isinf(r):
        return 0.0
    return float(min(r, 1.0 / r))


# ------------------------------------------------------------------ caching
class TableCache:
    """Each generation's synthetic table in tailbench's cache (:class:`bench.cache.Cache`).

    The key covers the dataset fingerprint, the generator config, the run
    seed, the generation, the rows per table, tailbench's version and, from
    generation 2 on, everything that shapes the training set (mode, anchor
    fraction and pool). Generation 1 trains on the real split in every mode,
    so the modes of one seed share it.

    Args:
        root: the cache folder (``cache.dir``); None disables caching.
        base: JSON-able dict common to every key of the run.
        refresh: ignore existing entries (they are overwritten).
    """

    def __init__(self, root: Path | str | None, base: dict[str, Any], refresh: bool = False) -> None:
        from bench.cache import Cache

        self.cache = Cache(root or ".", refresh=refresh, enabled=root is not None)
        self.base = base

    def key(self, generation: int, settings: CollapseSettings) -> str:
        from bench.cache import content_key

        d = {**self.base, "generation": generation}
        if generation >= 2:
            d["mode"] = settings.mode
            if settings.mode == "anchor":
                d["anchor"] = [settings.anchor_fraction, settings.anchor_pool]
        return content_key("collapse", d)

    def get(self, key: str) -> pd.DataFrame | None:
        hit = self.cache.load_synthetic(key)
        return None if hit is None else hit[0]

    def put(self, key: str, table: pd.DataFrame, meta: dict[str, Any] | None = None) -> None:
        self.cache.store_synthetic(key, table, {"task": "collapse", **(meta or {})})


# ---------------------------------------------------------------- the loop
@dataclass
class CollapseResult:
    """What :func:`run_generations` measured.

    Attributes:
        values: long frame ``generation, family, metric, value, direction``
            (generation 0 = the real train split).
        generations: one dict per generation: training rows, real rows in
            the training set, rare categories lost (by name), timings, cache
            hit, metric-group errors.
    """

    values: pd.DataFrame
    generations: list[dict[str, Any]]


def generation_seed(seed: int, generation: int) -> int:
    """The generator seed of round ``generation - 1`` (the model that samples table ``generation``)."""
    return int(np.random.SeedSequence([int(seed), int(generation)]).generate_state(1)[0] >> 1)


def run_generations(*, real: pd.DataFrame, holdout: pd.DataFrame, schema: Schema,
                    make_generator: Callable[[int], Any], settings: CollapseSettings, seed: int = 0,
                    reference: pd.DataFrame | None = None, cache: TableCache | None = None,
                    check: Callable[[pd.DataFrame, int], pd.DataFrame] | None = None,
                    on_generation: Callable[[CollapseResult], None] | None = None) -> CollapseResult:
    """Train, sample and score ``settings.generations`` recursive generations.

    Args:
        real: real train split (n_real, d): table 0 and round 0's training data.
        holdout: real holdout (TSTR test set).
        schema: the table's schema.
        make_generator: ``seed -> unfitted generator`` (a fresh model each round).
        settings: mode, generations, n, anchor settings, metrics.
        seed: the run seed (training-set draws, generator seeds, metric seeds).
        reference: real reference split; needed for ``anchor_pool=reference``.
        cache: where each synthetic table is kept (None = no cache).
        check: validates/coerces a sampled table (``(table, n) -> table``).
        on_generation: called with the partial result after every generation.
    Returns:
        :class:`CollapseResult`.
    Raises:
        ConfigError: ``anchor_pool=reference`` without a reference split.
        Whatever the generator raises while fitting or sampling.
    """
    n = settings.n or len(real)
    mode_rng = np.random.default_rng([int(seed), MODES.index(settings.mode), 11])
    anchor_pool, fixed = None, None
    if settings.mode == "anchor":
        if settings.anchor_pool == "reference":
            if reference is None or len(reference) == 0:
                raise ConfigError("collapse.anchor_pool=reference needs the dataset's reference split")
            anchor_pool = reference
        elif settings.anchor_pool == "fixed":
            _, n_real = anchor_split(n, settings.anchor_fraction)
            fixed = real.iloc[np.sort(mode_rng.choice(len(real), size=n_real, replace=n_real > len(real)))]
    scorer = CollapseScorer(real, holdout, schema, settings, seed)
    rows: list[dict[str, Any]] = []
    gens: list[dict[str, Any]] = []

    def add(generation: int, values: list[tuple[str, str, float, str | None]]) -> None:
        rows.extend({"generation": generation, "family": f, "metric": m, "value": float(v), "direction": d}
                    for f, m, v, d in values)

    def result() -> CollapseResult:
        return CollapseResult(values=pd.DataFrame(rows, columns=["generation", "family", "metric", "value",
                                                                 "direction"]),
                              generations=list(gens))

    t0 = time.perf_counter()
    values, det = scorer.score(real, 0, dcr_data=holdout)
    add(0, values)
    gens.append({"generation": 0, "table": "real train split", "rows": len(real), "lost": det["lost"],
                 "n_rare": det["n_rare"], "errors": det["errors"], "score_s": time.perf_counter() - t0})
    if on_generation:
        on_generation(result())
    tables: list[pd.DataFrame] = []
    for g in range(1, settings.generations + 1):
        info: dict[str, Any] = {"generation": g}
        train_g, n_real = training_set(settings.mode, real, tables, n=n, rng=mode_rng,
                                       anchor_fraction=settings.anchor_fraction,
                                       anchor_pool=anchor_pool, fixed_anchor=fixed)
        info.update(train_rows=len(train_g), train_real_rows=int(n_real))
        key = cache.key(g, settings) if cache is not None else None
        table = cache.get(key) if cache is not None else None
        info["cached"] = table is not None
        if table is not None:
            table = check(table, n) if check else table
        else:
            gen = make_generator(generation_seed(seed, g))
            t = time.perf_counter()
            gen.fit(train_g, schema)
            info["fit_s"] = time.perf_counter() - t
            t = time.perf_counter()
            table = gen.sample(n)
            table = check(table, n) if check else table
            info["sample_s"] = time.perf_counter() - t
            if cache is not None:
                cache.put(key, table, {"generation": g, "mode": settings.label, "seed": int(seed)})
        tables.append(table)
        if settings.mode == "replace" and len(tables) > 1:
            tables[-2] = None  # only the last table is needed; free memory
        t = time.perf_counter()
        values, det = scorer.score(table, g)
        info["score_s"] = time.perf_counter() - t
        add(g, values)
        prev = {(c, k) for c, k, _ in gens[-1]["lost"]}
        info.update(lost=det["lost"], newly_lost=[x for x in det["lost"] if (x[0], x[1]) not in prev],
                    n_rare=det["n_rare"], errors=det["errors"])
        gens.append(info)
        _log_generation(settings, g, values)
        if on_generation:
            on_generation(result())
    return result()


def _log_generation(settings: CollapseSettings, g: int, values: list[tuple[str, str, float, str | None]]) -> None:
    d = {m: v for _, m, v, _ in values}
    parts = [f"{k.split('.')[-1]}={d[k]:.3f}" for k in HEADLINE_METRICS if k in d and not math.isnan(d[k])]
    log.info("collapse %s generation %d: %s", settings.label, g, " ".join(parts))


def decompose(values: pd.DataFrame) -> pd.DataFrame:
    """Split each metric's change into the loss at generation 1 and the drift after it.

    Args:
        values: long frame with ``generation, metric, value`` (and ``direction``).
    Returns:
        One row per metric: ``metric, direction, gen0, gen1, last, last_generation,
        gen1_change = gen1 - gen0`` (model mismatch and estimation error of one
        fit on real data) and ``drift = last - gen1`` (what recursion adds).
        Metrics missing at generation 0 or 1 get NaN changes.
    """
    cols = ["metric", "direction", "gen0", "gen1", "last", "last_generation", "gen1_change", "drift"]
    if values.empty:
        return pd.DataFrame(columns=cols)
    out = []
    last_g = int(values["generation"].max())
    for name, grp in values.groupby("metric", sort=False):
        by = grp.set_index("generation")["value"]
        direction = grp["direction"].iloc[0] if "direction" in grp else None
        g0, g1, gl = by.get(0, np.nan), by.get(1, np.nan), by.get(last_g, np.nan)
        out.append((name, direction if isinstance(direction, str) else None, g0, g1, gl, last_g,
                    g1 - g0, gl - g1))
    return pd.DataFrame(out, columns=cols)


# ------------------------------------------------------------ the Hydra task
def run_collapse(cfg: Any, outdir: Path) -> dict[str, Any]:
    """The ``task=collapse`` job: one (dataset, generator, mode, seed) collapse run.

    Reads ``cfg.collapse`` (:class:`CollapseSettings`), ``cfg.dataset``,
    ``cfg.generator``, ``cfg.seed``, ``cfg.run.timeout_s``, ``cfg.cache``.
    Writes into ``outdir``: ``collapse.parquet`` (long:
    :data:`COLLAPSE_COLUMNS`, generation 0 = real train split),
    ``metrics.parquet`` (subgroup ``<mode>:gen<t>`` per generation, plus
    ``<mode>:gen1_change`` and ``<mode>:drift``, and cost rows) and
    ``run.json`` (status, settings, per-generation training-set sizes, lost
    categories by name, timings). No real record is written there; synthetic
    tables go to ``<cache.dir>/synthetic/`` only. Never raises for a failed
    run: the error is recorded and whatever generations finished are kept.

    Returns:
        The run record (also in ``outdir/run.json``).
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from bench.cli import (recording_failures, _choice, _eps, _overrides, _peak_mb, build_generator, config_hash,
                           deadline, package_versions, set_threads)
    from bench.generators.base import check_output

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    set_threads(cfg.get("threads"))
    seed = int(cfg.seed)
    gen_cfg = cfg.generator
    raw_settings = cfg.get("collapse")
    mode_hint = str(raw_settings.get("mode", "replace")) if raw_settings is not None else "replace"
    record: dict[str, Any] = {
        "run_id": uuid.uuid4().hex[:12],
        "task": "collapse",
        "config_hash": config_hash(cfg),
        "overrides": _overrides(),
        "tailbench_version": __version__,
        "versions": package_versions(),
        "dataset": str(cfg.dataset.get("name", "?")),
        "generator": str(gen_cfg.get("name") or _choice("generator") or "?"),
        "epsilon": None,
        "seed": seed,
        "mode": mode_hint,
        "status": "running",
        "error": None,
        "timings": {},
    }
    state: dict[str, Any] = {"result": None, "settings": None}

    def flush(res: CollapseResult) -> None:
        state["result"] = res
        atomic_write_parquet(outdir / "collapse.parquet", _collapse_frame(res, record, state["settings"]))

    t_start = time.perf_counter()
    with recording_failures(record, "collapse run"):
        with deadline(cfg.run.get("timeout_s")):
            settings = CollapseSettings.from_mapping(raw_settings)
            state["settings"] = settings
            record["mode"] = settings.mode
            record["collapse"] = {"settings": asdict(settings), "label": settings.label}
            dataset = instantiate(cfg.dataset, _convert_="all")
            record["dataset"] = dataset.name
            record["dataset_fingerprint"] = dataset.fingerprint
            splits = dataset.splits()
            record["split_sizes"] = splits.sizes()
            gen_dict = OmegaConf.to_container(gen_cfg, resolve=True)

            def make(s: int) -> Any:
                return build_generator({**gen_dict, "random_state": s}, s)

            probe = make(seed)
            record["generator"] = getattr(probe, "name", record["generator"])
            record["epsilon"] = _eps(getattr(probe, "epsilon", None))
            n = settings.n or int(cfg.run.get("n_synthetic") or len(splits.train))
            settings.n = n
            record["collapse"]["settings"]["n"] = n
            if record["epsilon"] is not None:
                record["dp_notes"] = [_dp_note(settings)]
            cache = None
            if settings.cache and cfg.get("cache") is not None and cfg.cache.get("dir"):
                base = {"dataset": dataset.fingerprint, "generator": {k: v for k, v in gen_dict.items()
                                                                      if k not in ("random_state", "verbose")},
                        "seed": seed, "n": n, "version": __version__}
                cache = TableCache(str(cfg.cache.dir), base, refresh=bool(cfg.cache.get("refresh", False)))
            # A generation whose target lost a class is a collapse outcome to measure, not a
            # broken generator: check rows, columns and kinds, but not the number of classes.
            relaxed = dataclasses.replace(dataset.schema, target=None)
            res = run_generations(
                real=splits.train, holdout=splits.holdout, reference=splits.reference, schema=dataset.schema,
                make_generator=make, settings=settings, seed=seed, cache=cache,
                check=lambda t, m: check_output(t, m, relaxed, record["generator"]),
                on_generation=flush)
            state["result"] = res
            record["status"] = "ok"
    record["timings"]["total_s"] = time.perf_counter() - t_start
    record["peak_mem_mb"] = _peak_mb()
    res: CollapseResult | None = state["result"]
    settings = state["settings"]
    label = settings.label if settings is not None else mode_hint
    rows: list[dict[str, Any]] = []
    if res is not None:
        fit = sum(g.get("fit_s", 0.0) for g in res.generations)
        samp = sum(g.get("sample_s", 0.0) for g in res.generations)
        score = sum(g.get("score_s", 0.0) for g in res.generations)
        record["timings"].update(fit_s=fit, sample_s=samp, eval_s=score)
        record["generations_done"] = int(res.values["generation"].max()) if len(res.values) else 0
        record["collapse"]["generations"] = res.generations
        dec = decompose(res.values)
        record["collapse"]["decomposition"] = {
            r.metric: {"gen0": r.gen0, "gen1": r.gen1, "last": r.last, "gen1_change": r.gen1_change,
                       "drift": r.drift}
            for r in dec.itertuples() if r.metric in HEADLINE_METRICS or r.metric.startswith(
                "tails.rare_category_retention")}
        scored = res.values[res.values["direction"].notna()]  # raw ratios stay in collapse.parquet
        for v in scored.itertuples():
            rows.append(metric(v.family, v.metric, v.value, v.direction, subgroup=f"{label}:gen{v.generation}"))
        fam = scored.drop_duplicates("metric").set_index("metric")["family"]
        for r in dec.itertuples():
            if r.last_generation >= 1 and r.metric in fam.index:
                rows.append(metric(fam[r.metric], r.metric, r.gen1_change, r.direction,
                                   subgroup=f"{label}:gen1_change"))
                rows.append(metric(fam[r.metric], r.metric, r.drift, r.direction, subgroup=f"{label}:drift"))
        for g in res.generations:
            for k in ("fit_s", "sample_s"):
                if k in g:
                    rows.append(metric("cost", f"cost.{k}", g[k], "minimize", subgroup=f"{label}:gen{g['generation']}"))
        flush(res)
    for k in ("fit_s", "sample_s", "eval_s"):
        if k in record["timings"]:
            rows.append(metric("cost", f"cost.{k}", record["timings"][k], "minimize", subgroup=label))
    rows.append(metric("cost", "cost.peak_mem_mb", record["peak_mem_mb"], "minimize", subgroup=label))
    write_run(outdir, record, rows)
    log.info("collapse run %s: %s (%s x %s, %s, seed %s) in %.1fs", record["run_id"], record["status"],
             record["dataset"], record["generator"], label, seed, record["timings"]["total_s"])
    return record


def _collapse_frame(res: CollapseResult, record: dict[str, Any], settings: CollapseSettings | None) -> pd.DataFrame:
    v = res.values
    order = {m: i for i, m in enumerate(HEADLINE_METRICS)}
    v = v.assign(_o=v["metric"].map(order).fillna(len(order)), _f=pd.factorize(v["metric"])[0])
    v = v.sort_values(["_o", "_f", "generation"], kind="stable")
    f = settings.anchor_fraction if settings is not None and settings.mode == "anchor" else float("nan")
    df = pd.DataFrame({
        "dataset": record["dataset"], "generator": record["generator"], "mode": record["mode"],
        "anchor_fraction": f, "seed": record["seed"], "generation": v["generation"].astype("int64"),
        "metric": v["metric"], "value": v["value"].astype(float),
    }, columns=COLLAPSE_COLUMNS)
    return df


def _dp_note(settings: CollapseSettings) -> str:
    if settings.mode == "replace":
        return ("epsilon is that of the round-0 fit, the only one that reads real data; later rounds "
                "train on synthetic data only (post-processing)")
    if settings.mode == "anchor" and settings.anchor_pool == "reference":
        return ("epsilon is per fit: round 0 reads the real train split, later rounds read real rows of "
                "the reference split; each fit is a separate release")
    return (f"epsilon is per fit: in mode {settings.mode} every one of the {settings.generations} rounds "
            "reads the real train split again, so the privacy loss of the whole run composes over rounds "
            f"(at most {settings.generations} x epsilon by basic composition); no total is claimed")


# ------------------------------------------------------------------- the toy
TOY_WEIGHTS = (0.97, 0.03)
TOY_MEANS = (0.0, 8.0)
TOY_THRESHOLD = 5.0


def toy_real(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of the toy's real distribution, 0.97 N(0, 1) + 0.03 N(8, 1)."""
    far = rng.random(n) < TOY_WEIGHTS[1]
    return np.where(far, rng.normal(TOY_MEANS[1], 1.0, n), rng.normal(TOY_MEANS[0], 1.0, n))


def toy_collapse(anchor_fraction: float = 0.0, n: int = 5000, generations: int = 8, seed: int = 0,
                 threshold: float = TOY_THRESHOLD) -> np.ndarray:
    """Recursive Gaussian refits of a two-mode mixture: the share of points above ``threshold``.

    Generation 0 is ``n`` real draws of 0.97 N(0,1) + 0.03 N(8,1). Each
    generation fits one Gaussian (sample mean and standard deviation, maximum
    likelihood) to the previous generation's points, keeps ``int(n (1 - f))``
    points sampled from it and adds ``n - int(n (1 - f))`` fresh real draws.

    What it gives (n=5000, 8 generations, mean over 200 seeds;
    ``python -m bench.collapse toy`` prints it): the share above 5 is 0.0298
    in the real data and drops at generation 1 to 0.0024 with f=0 and to
    0.0052 with f=0.1, then stays flat (generation 8: 0.0026 and 0.0053).
    The analytic values (:func:`toy_expected`):

    * real: P(x > 5) = 0.97 Phi_bar(5) + 0.03 Phi_bar(-3) = 0.02996.
    * The Gaussian fitted to the mixture has the mixture's moments:
      mu = 0.03 * 8 = 0.24, sigma^2 = 1 + 0.97 * 0.03 * 8^2 = 2.8624
      (sigma = 1.692). It puts Phi_bar((5 - 0.24) / 1.692) = Phi_bar(2.81)
      = 0.00245 of its mass above 5: one fit loses 92% of the tail. This is
      model mismatch (one Gaussian cannot hold the mode at 8), and it happens
      entirely at generation 1.
    * After that the data are Gaussian and the refit is unbiased for mu and,
      up to the factor (n-1)/n = 0.9998 per generation, for sigma^2, so the
      expected share stays at 0.00245 (f=0). With anchor f, the training data
      are (1 - f) draws of the fitted Gaussian plus f real draws, which have
      the same mean and variance, so the fit stays at the same Gaussian and
      the expected share is (1 - f) 0.00245 + f 0.02996 = 0.00520 at f=0.1.
      The anchor adds back f times the real tail; it cannot restore the mode.
    * What recursion adds at f=0 is noise, not a trend: sigma-hat takes a
      random walk with relative step about 1/sqrt(2n) = 1% per generation,
      and the tail share is steep in sigma (d log Phi_bar / d log sigma =
      z phi(z) / Phi_bar(z) = 8.8 at z = 2.81), so the seed-to-seed spread
      grows with the generation (sd over 200 seeds 0.00089 at generation 1,
      0.00114 at generation 8; binomial noise alone is 0.0007). With f > 0
      the real draws pull the fit back (the walk is mean-reverting): the sd
      stays at 0.0011-0.0012, mostly binomial noise of a larger share.
      Over many more generations (of order n) the f=0 walk drives sigma to 0
      (Shumailov et al.'s collapse); 8 generations of n=5000 are far from it.

    Args:
        anchor_fraction: f in [0, 1).
        n: points per generation.
        generations: refits after generation 0.
        seed: RNG seed.
        threshold: the tail cut-off (5.0).
    Returns:
        float array (generations + 1,): the share of each generation's points
        above ``threshold`` (index 0 = real data).
    Raises:
        ConfigError: if f is outside [0, 1) or n < 2.
    """
    if not 0.0 <= anchor_fraction < 1.0:
        raise ConfigError(f"anchor_fraction must be in [0, 1), got {anchor_fraction!r}")
    if n < 2:
        raise ConfigError(f"n must be >= 2, got {n}")
    rng = np.random.default_rng(seed)
    x = toy_real(n, rng)
    out = [float((x > threshold).mean())]
    n_syn, n_real = anchor_split(n, anchor_fraction)
    for _ in range(generations):
        mu, sd = float(x.mean()), float(x.std())
        x = np.concatenate([rng.normal(mu, sd, n_syn), toy_real(n_real, rng)])
        out.append(float((x > threshold).mean()))
    return np.array(out)


def toy_expected(anchor_fraction: float = 0.0, generations: int = 8,
                 threshold: float = TOY_THRESHOLD) -> np.ndarray:
    """The expected share above ``threshold`` per generation (n -> infinity).

    Generation 0: 0.97 Phi_bar(t) + 0.03 Phi_bar(t - 8). Generation >= 1:
    (1 - f) Phi_bar((t - mu) / sigma) + f * (generation 0), with mu, sigma the
    mixture's mean and standard deviation (see :func:`toy_collapse`).

    Returns:
        float array (generations + 1,).
    """
    from scipy.stats import norm

    w, m = np.array(TOY_WEIGHTS), np.array(TOY_MEANS)
    p_real = float((w * norm.sf(threshold - m)).sum())
    mu = float((w * m).sum())
    sigma = float(np.sqrt((w * (1.0 + m ** 2)).sum() - mu ** 2))
    p_fit = float(norm.sf((threshold - mu) / sigma))
    return np.array([p_real] + [(1 - anchor_fraction) * p_fit + anchor_fraction * p_real] * generations)


def toy_report(fractions: tuple[float, ...] = (0.0, 0.1), seeds: int = 200, n: int = 5000,
               generations: int = 8) -> str:
    """The toy check as text: mean and spread over seeds per generation beside the expectation."""
    lines = [f"toy: 0.97 N(0,1) + 0.03 N(8,1), n={n}, single-Gaussian refit, share of points > "
             f"{TOY_THRESHOLD:g}; mean (sd) over {seeds} seeds", "f     " + " ".join(
                 f"{'gen' + str(g):>15}" for g in range(generations + 1))]
    for f in fractions:
        runs = np.array([toy_collapse(f, n, generations, seed=s) for s in range(seeds)])
        lines.append(f"{f:<5g} " + " ".join(f"{m:8.5f} ({s:.5f})" for m, s in
                                           zip(runs.mean(0), runs.std(0, ddof=1))))
        lines.append(f"{'exp':<5} " + " ".join(f"{e:8.5f}        " for e in toy_expected(f, generations)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.collapse toy``: print the toy check."""
    p = argparse.ArgumentParser(prog="python -m bench.collapse", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("toy", help="the 1-D mixture check (share of points above 5 per generation)")
    t.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.1])
    t.add_argument("--seeds", type=int, default=200)
    t.add_argument("--n", type=int, default=5000)
    t.add_argument("--generations", type=int, default=8)
    a = p.parse_args(argv)
    print(toy_report(tuple(a.fractions), a.seeds, a.n, a.generations))
    return 0


if __name__ == "__main__":
    sys.exit(main())
