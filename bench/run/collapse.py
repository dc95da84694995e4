"""The ``task=collapse`` Hydra job: one (dataset, generator, mode, seed) collapse run."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from bench import __version__
from bench.collapse.loop import CollapseResult, TableCache, run_generations
from bench.collapse.modes import CollapseSettings
from bench.collapse.scorer import HEADLINE_METRICS, decompose
from bench.data.loaders import load_dataset
from bench.generators import check_output
from bench.results import atomic_write_parquet, metric, write_run
from bench.run.cell import build_generator
from bench.run.record import (
    as_epsilon,
    config_hash,
    deadline,
    hydra_choice,
    hydra_overrides,
    package_versions,
    peak_mb,
    recording_failures,
    set_threads,
)

log = logging.getLogger("tailbench")


COLLAPSE_COLUMNS = ["dataset", "generator", "mode", "anchor_fraction", "seed", "generation", "metric", "value"]


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
        "overrides": hydra_overrides(),
        "tailbench_version": __version__,
        "versions": package_versions(),
        "dataset": str(cfg.dataset.get("name", "?")),
        "generator": str(gen_cfg.get("name") or hydra_choice("generator") or "?"),
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
            dataset = load_dataset(OmegaConf.to_container(cfg.dataset, resolve=True))
            record["dataset"] = dataset.name
            record["dataset_fingerprint"] = dataset.fingerprint
            splits = dataset.splits()
            record["split_sizes"] = splits.sizes()
            gen_dict = OmegaConf.to_container(gen_cfg, resolve=True)

            def make(s: int) -> Any:
                return build_generator({**gen_dict, "random_state": s}, s, cfg.get("epsilon"))

            probe = make(seed)
            record["generator"] = getattr(probe, "name", record["generator"])
            record["epsilon"] = as_epsilon(getattr(probe, "epsilon", None))
            n = settings.n or int(cfg.run.get("n_synthetic") or len(splits.train))
            settings.n = n
            record["collapse"]["settings"]["n"] = n
            if record["epsilon"] is not None:
                record["dp_notes"] = [_dp_note(settings)]
            cache = None
            if settings.cache and cfg.get("cache") is not None and cfg.cache.get("dir"):
                cache = TableCache(
                    str(cfg.cache.dir),
                    probe,
                    seed,
                    {"dataset": dataset.fingerprint, "n": n},
                    refresh=bool(cfg.cache.get("refresh", False)),
                )
            # A generation whose target lost a class is a collapse outcome to measure, not a
            # broken generator: check rows, columns and kinds, but not the number of classes.
            relaxed = dataclasses.replace(dataset.schema, target=None)
            res = run_generations(
                real=splits.train,
                holdout=splits.holdout,
                reference=splits.reference,
                schema=dataset.schema,
                make_generator=make,
                settings=settings,
                seed=seed,
                cache=cache,
                check=lambda t, m: check_output(t, m, relaxed, record["generator"]),
                on_generation=flush,
            )
            state["result"] = res
            record["status"] = "ok"
    record["timings"]["total_s"] = time.perf_counter() - t_start
    record["peak_mem_mb"] = peak_mb()
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
            r.metric: {"gen0": r.gen0, "gen1": r.gen1, "last": r.last, "gen1_change": r.gen1_change, "drift": r.drift}
            for r in dec.itertuples()
            if r.metric in HEADLINE_METRICS or r.metric.startswith("tails.rare_category_retention")
        }
        scored = res.values[res.values["direction"].notna()]  # raw ratios stay in collapse.parquet
        for v in scored.itertuples():
            rows.append(metric(v.family, v.metric, v.value, v.direction, subgroup=f"{label}:gen{v.generation}"))
        fam = scored.drop_duplicates("metric").set_index("metric")["family"]
        for r in dec.itertuples():
            if r.last_generation >= 1 and r.metric in fam.index:
                rows.append(
                    metric(fam[r.metric], r.metric, r.gen1_change, r.direction, subgroup=f"{label}:gen1_change")
                )
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
    log.info(
        "collapse run %s: %s (%s x %s, %s, seed %s) in %.1fs",
        record["run_id"],
        record["status"],
        record["dataset"],
        record["generator"],
        label,
        seed,
        record["timings"]["total_s"],
    )
    return record


def _collapse_frame(res: CollapseResult, record: dict[str, Any], settings: CollapseSettings | None) -> pd.DataFrame:
    v = res.values
    order = {m: i for i, m in enumerate(HEADLINE_METRICS)}
    v = v.assign(_o=v["metric"].map(order).fillna(len(order)), _f=pd.factorize(v["metric"])[0])
    v = v.sort_values(["_o", "_f", "generation"], kind="stable")
    f = settings.anchor_fraction if settings is not None and settings.mode == "anchor" else float("nan")
    df = pd.DataFrame(
        {
            "dataset": record["dataset"],
            "generator": record["generator"],
            "mode": record["mode"],
            "anchor_fraction": f,
            "seed": record["seed"],
            "generation": v["generation"].astype("int64"),
            "metric": v["metric"],
            "value": v["value"].astype(float),
        },
        columns=COLLAPSE_COLUMNS,
    )
    return df


def _dp_note(settings: CollapseSettings) -> str:
    if settings.mode == "replace":
        return (
            "epsilon is that of the round-0 fit, the only one that reads real data; later rounds "
            "train on synthetic data only (post-processing)"
        )
    if settings.mode == "anchor" and settings.anchor_pool == "reference":
        return (
            "epsilon is per fit: round 0 reads the real train split, later rounds read real rows of "
            "the reference split; each fit is a separate release"
        )
    return (
        f"epsilon is per fit: in mode {settings.mode} every one of the {settings.generations} rounds "
        "reads the real train split again, so the privacy loss of the whole run composes over rounds "
        f"(at most {settings.generations} x epsilon by basic composition); no total is claimed"
    )
