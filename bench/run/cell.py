"""One benchmark cell: fit a generator on the train split, sample, score, write the record.

:func:`run_cell` is the ``task=cell`` job of a sweep; :func:`build_generator`
turns a generator config into an unfitted generator; :func:`metric_settings`
picks the settings blocks the metric families read out of a run config. A
failed run is recorded, never raised: the sweep goes on.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from bench import __version__
from bench.api import evaluate
from bench.data.export import restore_types, write_table
from bench.data.loaders import load_dataset
from bench.errors import ConfigError, UnknownGeneratorError
from bench.generators import available_generators, check_output, generator_class
from bench.results import metric, read_run, write_run
from bench.run.cache import Cache, generator_key
from bench.run.record import (
    as_epsilon,
    config_hash,
    config_parameters,
    deadline,
    git_commit,
    hydra_choice,
    hydra_overrides,
    package_versions,
    peak_mb,
    privacy_record,
    quiet_library_loggers,
    recording_failures,
    set_threads,
)

log = logging.getLogger("tailbench")


def save_synthetic(fmt: Any, gen: Any, synthetic: Any, dataset: Any, outdir: Path, record: dict[str, Any]) -> None:
    """``run.save_synthetic``: write the synthetic table into the run folder in the raw file's types.

    Args:
        fmt: false/None (do nothing), true or ``"parquet"`` (``synthetic.parquet``),
            ``"csv"`` (``synthetic.csv``).
    A generator whose output holds real rows (``cacheable = False``: identity,
    noisy_identity) is not exported: the results folder never holds a real
    record; ``record["synthetic_file"]`` says why.
    Raises:
        ConfigError: another value of ``run.save_synthetic``.
    """
    if fmt in (None, False, "false", "False"):
        return
    suffix = {True: "parquet", "true": "parquet", "parquet": "parquet", "csv": "csv"}.get(fmt)
    if suffix is None:
        raise ConfigError(f"run.save_synthetic must be false, true, parquet or csv, got {fmt!r}")
    if not getattr(gen, "cacheable", True):
        record["synthetic_file"] = f"not written: {getattr(gen, 'name', 'this generator')} releases real rows"
        return
    path = write_table(restore_types(synthetic, dataset.schema, dataset.formats), outdir / f"synthetic.{suffix}")
    record["synthetic_file"] = path.name


def metric_settings(cfg: DictConfig) -> dict[str, Any]:
    """The metric families' settings from a run config: every ``evaluation`` block plus ``attacks``.

    Returns:
        ``{section: plain dict}`` for :func:`bench.metrics.families.score`.
    """
    settings = dict(OmegaConf.to_container(cfg.evaluation, resolve=True))
    if "attacks" in cfg and cfg.attacks is not None:
        settings["attacks"] = OmegaConf.to_container(cfg.attacks, resolve=True)
    return settings


def build_generator(gen_cfg: DictConfig | dict, seed: int, epsilon: Any = None) -> Any:
    """Instantiate a generator config.

    ``name: <registered>`` builds by name (entry points included); ``_target_``
    builds the class. Keys the class does not accept (e.g. ``epochs`` for
    ``identity``) are dropped, with a log line when they were set.

    Args:
        epsilon: the run's top-level ``epsilon`` (the sweep axis); when not
            None it replaces the config's ``epsilon`` for a generator that
            takes one, and is ignored by the others.

    Raises:
        UnknownGeneratorError: unknown name or an unimportable ``_target_``.
    """
    d = OmegaConf.to_container(gen_cfg, resolve=True) if isinstance(gen_cfg, DictConfig) else dict(gen_cfg)
    d = dict(d)
    d.setdefault("random_state", seed)
    target = d.pop("_target_", None)
    name = d.pop("name", None)
    if target is None:
        if name is None:
            raise ConfigError("generator config needs a `_target_` or a `name`")
        cls = generator_class(name)
    else:
        try:
            cls = get_class(target)
        except Exception as exc:  # noqa: BLE001
            raise UnknownGeneratorError(
                f"generator class {target!r} cannot be imported ({exc}); built-in generators: "
                f"{', '.join(available_generators())}"
            ) from None
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if epsilon is not None and "epsilon" in params:
        d["epsilon"] = epsilon
    kwargs = {}
    for k, v in d.items():
        if accepts_any or k in params:
            kwargs[k] = v
        elif v is not None:
            log.debug("generator %s does not take %s=%r; ignored", getattr(cls, "name", cls.__name__), k, v)
    return cls(**kwargs)


def run_cell(cfg: DictConfig, outdir: Path) -> dict[str, Any]:
    """Run one cell and write its record; never raises for a failed run.

    Returns:
        The run record (also written to ``outdir/run.json``).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    set_threads(cfg.get("threads"))
    seed = int(cfg.seed)
    gen_cfg = cfg.generator
    top_eps = cfg.get("epsilon")
    requested_eps = top_eps if top_eps is not None else (gen_cfg.get("epsilon") if "epsilon" in gen_cfg else None)
    record: dict[str, Any] = {
        "run_id": uuid.uuid4().hex[:12],
        "config_hash": config_hash(cfg),
        "overrides": hydra_overrides(),
        "parameters": config_parameters(cfg),
        "tailbench_version": __version__,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "dataset": str(cfg.dataset.get("name", "?")),
        "generator": str(gen_cfg.get("name") or hydra_choice("generator") or "?"),
        "epsilon": as_epsilon(requested_eps),
        "seed": seed,
        "status": "running",
        "error": None,
        "timings": {},
    }
    try:  # the generator's identity (class, parameters, code): a code edit reruns a finished cell
        record["generator_key"] = generator_key("cell", build_generator(gen_cfg, seed, top_eps), seed)
    except Exception:  # noqa: BLE001 - the same error is recorded by the run below
        record["generator_key"] = None
    previous = read_run(outdir / "run.json")
    if (
        cfg.run.get("resume", True)
        and previous
        and previous.get("status") == "ok"
        and previous.get("config_hash") == record["config_hash"]
        and previous.get("generator_key") == record["generator_key"]
        and (outdir / "metrics.parquet").exists()
    ):
        log.info("skipping %s: finished with the same config (run %s)", outdir, previous.get("run_id"))
        return previous
    quiet_library_loggers()
    cache = Cache(
        cfg.cache.dir, refresh=bool(cfg.cache.get("refresh", False)), enabled=bool(cfg.cache.get("enabled", True))
    )
    rows: list[dict] = []
    t_start = time.perf_counter()
    with recording_failures(record, "run"):
        with deadline(cfg.run.get("timeout_s")):
            dataset = load_dataset(OmegaConf.to_container(cfg.dataset, resolve=True))
            record["dataset"] = dataset.name
            record["dataset_fingerprint"] = dataset.fingerprint
            splits = cache.splits(dataset)
            record["split_sizes"] = splits.sizes()
            gen = build_generator(gen_cfg, seed, top_eps)
            # the config's name labels the run (two recipes of one class, e.g. dp_ctgan and
            # dp_ctgan_adult_tuned, stay apart in the tables); else the class's registered name
            record["generator"] = str(gen_cfg.get("name") or getattr(gen, "name", record["generator"]))
            record["epsilon"] = as_epsilon(getattr(gen, "epsilon", None))
            n = int(cfg.run.get("n_synthetic") or len(splits.train))
            key = generator_key("synthetic", gen, seed, dataset.fingerprint, n)
            hit = cache.load_synthetic(key) if getattr(gen, "cacheable", True) else None
            if hit is not None:
                synthetic = dataset.schema.coerce(hit[0], check_target=False)
                meta = hit[1]
                record["cache"] = {"synthetic": "hit", "key": key}
                record["timings"].update({k: meta[k] for k in ("fit_s", "sample_s") if k in meta})
                record["timings"]["cached"] = True
                spent = meta.get("privacy")
                fitted = None
            else:
                t0 = time.perf_counter()
                gen.fit(splits.train, dataset.schema)
                record["timings"]["fit_s"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                synthetic = check_output(gen.sample(n), n, dataset.schema, record["generator"])
                record["timings"]["sample_s"] = time.perf_counter() - t0
                ps = gen.privacy_spent() if hasattr(gen, "privacy_spent") else None
                spent = ps.to_dict() if ps is not None else None
                fitted = gen
                if getattr(gen, "cacheable", True):  # stored in the raw file's types (bench.data.export)
                    cache.store_synthetic(
                        key,
                        restore_types(synthetic, dataset.schema, dataset.formats),
                        {
                            **{k: record["timings"][k] for k in ("fit_s", "sample_s")},
                            "privacy": spent,
                            "generator": record["generator"],
                        },
                    )
                    record["cache"] = {"synthetic": "stored", "key": key}
            save_synthetic(cfg.run.get("save_synthetic"), gen, synthetic, dataset, outdir, record)
            if spent is not None:
                record.update(privacy_record(spent))
            # the one evaluation path, as for a table from any tool (bench.api.evaluate)
            metrics, details = evaluate(
                train=splits.train,
                holdout=splits.holdout,
                reference=splits.reference,
                synthetic=synthetic,
                schema=dataset.schema,
                settings=metric_settings(cfg),
                seed=seed,
                dataset=dataset,
                generator=fitted,
                generator_factory=lambda: build_generator(gen_cfg, seed, top_eps),
            )
            rows = metrics.drop(columns=["run_id", "dataset", "generator", "epsilon", "seed"]).to_dict("records")
            timings = details.pop("timings")
            record["timings"].update(eval_s=timings["eval_s"], family_s=timings["family_s"])
            # families add run-level details (no real records), e.g. worst pairs by name, skipped families
            record.update(details)
            record["status"] = "ok"
    record["timings"]["total_s"] = time.perf_counter() - t_start
    record["peak_mem_mb"] = peak_mb()
    for k in ("fit_s", "sample_s", "eval_s"):
        if k in record["timings"]:
            rows.append(metric("cost", f"cost.{k}", record["timings"][k], "minimize"))
    rows.append(metric("cost", "cost.peak_mem_mb", record["peak_mem_mb"], "minimize"))
    write_run(outdir, record, rows)
    log.info(
        "run %s: %s (%s x %s, seed %s) in %.1fs",
        record["run_id"],
        record["status"],
        record["dataset"],
        record["generator"],
        seed,
        record["timings"]["total_s"],
    )
    return record
