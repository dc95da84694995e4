"""The run record: what ran, with which versions and config, and how it ended.

Pieces every job (a sweep cell, a collapse run) uses to build ``run.json``:
package versions, the git commit, the config hash, the run's deadline and
thread limits, and :func:`recording_failures`, which turns an exception into
the record's ``status``/``error`` so that a failed run becomes a row and the
sweep goes on. ``run.json`` and ``metrics.parquet`` are written atomically by
:func:`bench.results.write_run`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from bench.errors import TailbenchError

log = logging.getLogger("tailbench")


PACKAGES = [
    "tailbench",
    "torch",
    "sdv",
    "ctgan",
    "sdmetrics",
    "opacus",
    "anonymeter",
    "numpy",
    "pandas",
    "scikit-learn",
    "hydra-core",
]


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
    usable = (
        seconds and seconds > 0 and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    )
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
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        )
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


# top-level settings that change no number (or are row keys of the comparison table)
_NOT_PARAMETERS = ("hydra", "paths", "cache", "run", "threads", "name", "experiment", "seed", "epsilon", "task")


def config_parameters(cfg: DictConfig) -> dict[str, str]:
    """The job config as flat ``{dotted.key: value}`` strings, unresolved (``${seed}`` stays as written, so
    seeds do not make configurations differ), without settings that change no number.

    What :func:`bench.results.swept_parameters` compares between runs of one
    dataset x generator x epsilon.
    """
    out: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = node if isinstance(node, str) else json.dumps(node, default=str)

    d = OmegaConf.to_container(cfg, resolve=False)
    walk({k: v for k, v in d.items() if k not in _NOT_PARAMETERS}, "")
    return out


def quiet_library_loggers() -> None:
    """SDV and RDT log every fit at INFO; keep job logs to tailbench's own lines."""
    for name in ("sdv", "rdt", "copulas", "SingleTableSynthesizer", "MultiTableSynthesizer", "ctgan"):
        logging.getLogger(name).setLevel(logging.WARNING)


def peak_mb() -> float:
    """The process's peak resident memory (max RSS) in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def as_epsilon(v: Any) -> float | None:
    """``v`` as a float epsilon (None when absent or not a number; ``"inf"`` parses)."""
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def hydra_overrides() -> list[str]:
    """The job's command-line overrides ([] outside a Hydra run)."""
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def hydra_choice(group: str) -> str | None:
    """The config Hydra chose for ``group`` (e.g. ``generator``), None outside a Hydra run."""
    try:
        return HydraConfig.get().runtime.choices.get(group)
    except ValueError:
        return None


# PrivacySpent fields that keep their historical run.json names; every other field is dp_<field>.
_PRIVACY_KEYS = {
    "epsilon": "epsilon_spent",
    "delta": "delta",
    "accountant": "accountant",
    "scope": "dp_scope",
    "full_scope": "dp_full_scope",
    "notes": "dp_notes",
}


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
