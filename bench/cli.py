"""The Hydra app: one job = one (dataset, generator, epsilon, seed) cell.

Usage::

    tailbench                                   # one run: fair x gaussian_copula
    tailbench -m experiment=demo                # the demo sweep
    tailbench -m generator=ctgan,tvae seed=0,1 generator.epochs=20

Each job writes ``run.json`` and ``metrics.parquet`` into its Hydra output
directory; the multirun callback (:mod:`bench.callbacks`) aggregates them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback
import uuid
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from bench import __version__
from bench.errors import ConfigError, TailbenchError, UnknownGeneratorError
from bench.evaluate import EvalContext, evaluate
from bench.generators.base import available_generators, check_output, generator_class
from bench.cache import Cache, fit_key
from bench.data.loaders import load_dataset
from bench.results import metric, read_run, write_run

log = logging.getLogger("tailbench")

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
PACKAGES = ["tailbench", "torch", "sdv", "ctgan", "sdmetrics", "opacus", "anonymeter", "numpy",
            "pandas", "scikit-learn", "hydra-core"]


class RunTimeout(TailbenchError):
    """The run exceeded ``run.timeout_s``."""


def set_threads(n: int | None) -> None:
    """Limit torch and BLAS threads so parallel jobs don't oversubscribe cores."""
    if not n:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        import torch

        torch.set_num_threads(int(n))
    except ImportError:  # pragma: no cover
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(int(n))
    except ImportError:  # pragma: no cover
        pass


@contextmanager
def deadline(seconds: float | None):
    """Raise :class:`RunTimeout` after ``seconds`` (SIGALRM; main thread only)."""
    usable = seconds and seconds > 0 and hasattr(signal, "SIGALRM") and \
        __import__("threading").current_thread() is __import__("threading").main_thread()
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise RunTimeout(f"run exceeded run.timeout_s={seconds}")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def recording_failures(record: dict[str, Any], what: str = "run"):
    """Turn an exception into ``record["status"]``/``record["error"]``: a failed run is a row.

    ``RunTimeout`` -> status ``timeout``; any other exception -> ``failed`` with
    ``"<ErrorType>: <message>"`` (a traceback goes to the log for unexpected errors).
    """
    try:
        yield
    except RunTimeout as exc:
        record["status"] = "timeout"
        record["error"] = str(exc)
    except TailbenchError as exc:
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        log.error("%s failed: %s", what, record["error"])
    except Exception as exc:  # noqa: BLE001 - a failed run becomes a row, the sweep goes on
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        log.error("%s failed:\n%s", what, traceback.format_exc())


def package_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def git_commit() -> str | None:
    """The HEAD commit of the tailbench checkout (None outside a git checkout)."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def config_hash(cfg: DictConfig) -> str:
    """SHA-256 (first 16 hex) of the resolved job config (Hydra's own node excluded)."""
    d = OmegaConf.to_container(cfg, resolve=True)
    d.pop("hydra", None)
    for k in ("paths", "cache"):
        d.pop(k, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_generator(gen_cfg: DictConfig | dict, seed: int) -> Any:
    """Instantiate a generator config.

    ``name: <registered>`` builds by name (entry points included); ``_target_``
    builds the class. Keys the class does not accept (e.g. ``epochs`` for
    ``identity``) are dropped, with a log line when they were set.

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
                f"{', '.join(available_generators())}") from None
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    kwargs = {}
    for k, v in d.items():
        if accepts_any or k in params:
            kwargs[k] = v
        elif v is not None:
            log.info("generator %s does not take %s=%r; ignored", getattr(cls, "name", cls.__name__), k, v)
    return cls(**kwargs)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# PrivacySpent fields that keep their historical run.json names; every other field is dp_<field>.
_PRIVACY_KEYS = {"epsilon": "epsilon_spent", "delta": "delta", "accountant": "accountant", "scope": "dp_scope",
                 "full_scope": "dp_full_scope", "notes": "dp_notes"}


def privacy_record(spent: dict) -> dict:
    """run.json fields for a generator's :class:`~bench.generators.base.PrivacySpent` (as a dict).

    Every field is kept: ``epsilon`` -> ``epsilon_spent``, ``delta``,
    ``accountant``, ``scope``/``full_scope``/``notes`` -> ``dp_scope``/
    ``dp_full_scope``/``dp_notes``, any other field ``f`` -> ``dp_f``
    (``dp_neighbouring``, ``dp_delta_rationale``, ``dp_rng``,
    ``dp_bounds_source``, ``dp_tuning_source``, ``dp_outside``), plus
    ``dp_seeded`` (True when the noise followed the seed). Works on records
    cached by older versions (fewer fields).
    """
    out = {_PRIVACY_KEYS.get(k, f"dp_{k}"): v for k, v in spent.items()}
    out["dp_seeded"] = str(spent.get("rng", "")).startswith("seeded")
    return out


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
    requested_eps = gen_cfg.get("epsilon") if "epsilon" in gen_cfg else None
    record: dict[str, Any] = {
        "run_id": uuid.uuid4().hex[:12],
        "config_hash": config_hash(cfg),
        "overrides": _overrides(),
        "tailbench_version": __version__,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "dataset": str(cfg.dataset.get("name", "?")),
        "generator": str(gen_cfg.get("name") or _choice("generator") or "?"),
        "epsilon": _eps(requested_eps),
        "seed": seed,
        "status": "running",
        "error": None,
        "timings": {},
    }
    previous = read_run(outdir / "run.json")
    if (cfg.run.get("resume", True) and previous and previous.get("status") == "ok"
            and previous.get("config_hash") == record["config_hash"]
            and (outdir / "metrics.parquet").exists()):
        log.info("skipping %s: finished with the same config (run %s)", outdir, previous.get("run_id"))
        return previous
    quiet_library_loggers()
    cache = Cache(cfg.cache.dir, refresh=bool(cfg.cache.get("refresh", False)),
                  enabled=bool(cfg.cache.get("enabled", True)))
    rows: list[dict] = []
    t_start = time.perf_counter()
    with recording_failures(record, "run"):
        with deadline(cfg.run.get("timeout_s")):
            dataset = load_dataset(OmegaConf.to_container(cfg.dataset, resolve=True))
            record["dataset"] = dataset.name
            record["dataset_fingerprint"] = dataset.fingerprint
            splits = cache.splits(dataset)
            record["split_sizes"] = splits.sizes()
            gen = build_generator(gen_cfg, seed)
            # the config's name labels the run (two recipes of one class, e.g. dp_ctgan and
            # dp_ctgan_adult_tuned, stay apart in the tables); else the class's registered name
            record["generator"] = str(gen_cfg.get("name") or getattr(gen, "name", record["generator"]))
            record["epsilon"] = _eps(getattr(gen, "epsilon", None))
            n = int(cfg.run.get("n_synthetic") or len(splits.train))
            key = fit_key(dataset.fingerprint, _container(gen_cfg, seed), seed, n, code=code_hash(type(gen)))
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
                if getattr(gen, "cacheable", True):
                    cache.store_synthetic(key, synthetic, {**{k: record["timings"][k] for k in ("fit_s", "sample_s")},
                                                           "privacy": spent, "generator": record["generator"]})
                    record["cache"] = {"synthetic": "stored", "key": key}
            if spent is not None:
                record.update(privacy_record(spent))
            ctx = EvalContext(dataset=dataset, splits=splits, synthetic=synthetic, seed=seed, generator=fitted,
                              generator_factory=lambda: build_generator(gen_cfg, seed))
            settings = {**OmegaConf.to_container(cfg.evaluation, resolve=True)}
            if "attacks" in cfg and cfg.attacks is not None:
                settings["attacks"] = OmegaConf.to_container(cfg.attacks, resolve=True)
            t0 = time.perf_counter()
            rows, family_errors, family_s = evaluate(ctx, settings)
            record["timings"]["eval_s"] = time.perf_counter() - t0
            record["timings"]["family_s"] = family_s
            if family_errors:
                record["metric_errors"] = family_errors
            # Families may add run-level details (no real records), e.g. worst pairs by name.
            record.update(ctx.cache.get("run_record", {}))
            record["status"] = "ok"
    record["timings"]["total_s"] = time.perf_counter() - t_start
    record["peak_mem_mb"] = _peak_mb()
    for k in ("fit_s", "sample_s", "eval_s"):
        if k in record["timings"]:
            rows.append(metric("cost", f"cost.{k}", record["timings"][k], "minimize"))
    rows.append(metric("cost", "cost.peak_mem_mb", record["peak_mem_mb"], "minimize"))
    write_run(outdir, record, rows)
    log.info("run %s: %s (%s x %s, seed %s) in %.1fs", record["run_id"], record["status"],
             record["dataset"], record["generator"], seed, record["timings"]["total_s"])
    return record


def code_hash(cls: type) -> str:
    """SHA-256 (first 12 hex) of the source defining ``cls`` ("" if unavailable).

    Part of the synthetic-table cache key, so editing a generator's code
    invalidates its cached tables. For tailbench's own generators that is the
    defining file; for a generator from an outside package (an entry-point
    plugin) it is every ``.py`` file of that package, since its mechanism
    usually spans several modules.
    """
    try:
        path = Path(inspect.getfile(cls))
        top = sys.modules.get(cls.__module__.split(".")[0])
        root = Path(top.__file__).parent if top is not None and getattr(top, "__file__", None) else None
        if root is None or cls.__module__.split(".")[0] == "bench" or root.name == "site-packages":
            files = [path]
        else:
            files = sorted(root.rglob("*.py"))
        h = hashlib.sha256()
        for f in files:
            h.update(f.read_bytes())
        return h.hexdigest()[:12]
    except (TypeError, OSError):
        return ""


def _container(gen_cfg: Any, seed: int) -> dict[str, Any]:
    d = OmegaConf.to_container(gen_cfg, resolve=True) if isinstance(gen_cfg, DictConfig) else dict(gen_cfg)
    d.setdefault("random_state", seed)
    return d


def quiet_library_loggers() -> None:
    """SDV and RDT log every fit at INFO; keep job logs to tailbench's own lines."""
    for name in ("sdv", "rdt", "copulas", "SingleTableSynthesizer", "MultiTableSynthesizer", "ctgan"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _eps(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _overrides() -> list[str]:
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def _choice(group: str) -> str | None:
    try:
        return HydraConfig.get().runtime.choices.get(group)
    except ValueError:
        return None


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Entry point of the ``tailbench`` console script."""
    try:
        outdir = Path(HydraConfig.get().runtime.output_dir)
    except ValueError:
        outdir = Path(cfg.paths.results_dir) / "runs" / uuid.uuid4().hex[:8]
    task = str(cfg.get("task", "cell"))
    if task == "collapse":
        from bench.collapse import run_collapse

        record = run_collapse(cfg, outdir)
    elif task == "cell":
        record = run_cell(cfg, outdir)
    else:
        raise ConfigError(f"task={task!r} is unknown; use cell or collapse")
    if HydraConfig.get().mode.name == "RUN":
        from bench.results import aggregate

        aggregate(outdir)
    return 0.0 if record["status"] == "ok" else None


if __name__ == "__main__":
    main()
