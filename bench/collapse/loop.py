"""The generation loop: train, sample and score recursive generations, with each table cached."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.collapse.modes import MODES, CollapseSettings, anchor_split, training_set
from bench.collapse.scorer import HEADLINE_METRICS, CollapseScorer
from bench.data.schema import Schema
from bench.errors import ConfigError
from bench.run.cache import Cache, generator_key

log = logging.getLogger("tailbench")


class TableCache:
    """Each generation's synthetic table in tailbench's cache (:class:`bench.run.cache.Cache`).

    The key (:func:`bench.run.cache.generator_key`, kind ``"collapse"``) covers
    the generator's identity (class, parameters, code), the run seed, the
    dataset fingerprint, the rows per table, the generation and, from
    generation 2 on, everything that shapes the training set (mode, anchor
    fraction and pool). Generation 1 trains on the real split in every mode,
    so the modes of one seed share it.

    Args:
        root: the cache folder (``cache.dir``); None disables caching.
        generator: an unfitted generator with the run's settings (its identity is keyed).
        seed: the run seed.
        base: JSON-able dict common to every key of the run (dataset fingerprint, rows per table).
        refresh: ignore existing entries (they are overwritten).
    """

    def __init__(
        self, root: Path | str | None, generator: Any, seed: int, base: dict[str, Any], refresh: bool = False
    ) -> None:
        self.cache = Cache(root or ".", refresh=refresh, enabled=root is not None)
        self.generator = generator
        self.seed = int(seed)
        self.base = base

    def key(self, generation: int, settings: CollapseSettings) -> str:
        d = {**self.base, "generation": generation}
        if generation >= 2:
            d["mode"] = settings.mode
            if settings.mode == "anchor":
                d["anchor"] = [settings.anchor_fraction, settings.anchor_pool]
        return generator_key("collapse", self.generator, self.seed, d)

    def get(self, key: str) -> pd.DataFrame | None:
        hit = self.cache.load_synthetic(key)
        return None if hit is None else hit[0]

    def put(self, key: str, table: pd.DataFrame, meta: dict[str, Any] | None = None) -> None:
        self.cache.store_synthetic(key, table, {"task": "collapse", **(meta or {})})


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


def run_generations(
    *,
    real: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
    make_generator: Callable[[int], Any],
    settings: CollapseSettings,
    seed: int = 0,
    reference: pd.DataFrame | None = None,
    cache: TableCache | None = None,
    check: Callable[[pd.DataFrame, int], pd.DataFrame] | None = None,
    on_generation: Callable[[CollapseResult], None] | None = None,
) -> CollapseResult:
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
        rows.extend(
            {"generation": generation, "family": f, "metric": m, "value": float(v), "direction": d}
            for f, m, v, d in values
        )

    def result() -> CollapseResult:
        return CollapseResult(
            values=pd.DataFrame(rows, columns=["generation", "family", "metric", "value", "direction"]),
            generations=list(gens),
        )

    t0 = time.perf_counter()
    values, det = scorer.score(real, 0, dcr_data=holdout)
    add(0, values)
    gens.append(
        {
            "generation": 0,
            "table": "real train split",
            "rows": len(real),
            "lost": det["lost"],
            "n_rare": det["n_rare"],
            "errors": det["errors"],
            "score_s": time.perf_counter() - t0,
        }
    )
    if on_generation:
        on_generation(result())
    tables: list[pd.DataFrame] = []
    for g in range(1, settings.generations + 1):
        info: dict[str, Any] = {"generation": g}
        train_g, n_real = training_set(
            settings.mode,
            real,
            tables,
            n=n,
            rng=mode_rng,
            anchor_fraction=settings.anchor_fraction,
            anchor_pool=anchor_pool,
            fixed_anchor=fixed,
        )
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
        info.update(
            lost=det["lost"],
            newly_lost=[x for x in det["lost"] if (x[0], x[1]) not in prev],
            n_rare=det["n_rare"],
            errors=det["errors"],
        )
        gens.append(info)
        _log_generation(settings, g, values)
        if on_generation:
            on_generation(result())
    return result()


def _log_generation(settings: CollapseSettings, g: int, values: list[tuple[str, str, float, str | None]]) -> None:
    d = {m: v for _, m, v, _ in values}
    parts = [f"{k.split('.')[-1]}={d[k]:.3f}" for k in HEADLINE_METRICS if k in d and not math.isnan(d[k])]
    log.info("collapse %s generation %d: %s", settings.label, g, " ".join(parts))
