"""The Hydra app: one job = one cell (or one collapse run); dispatches on ``task``.

Usage::

    tailbench                                   # one run: fair x gaussian_copula
    tailbench -m experiment=demo                # the demo sweep
    tailbench -m generator=ctgan,tvae seed=0,1 generator.epochs=20

Each job writes ``run.json`` and ``metrics.parquet`` into its Hydra output
directory (:mod:`bench.run`); the multirun callback (:mod:`bench.callbacks`)
aggregates them.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bench import CONF_DIR
from bench.errors import ConfigError
from bench.results import aggregate
from bench.run.cell import run_cell
from bench.run.collapse import run_collapse

TASKS = {"cell": run_cell, "collapse": run_collapse}
__all__ = ["CONF_DIR", "TASKS", "main"]


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Entry point of the ``tailbench`` console script."""
    try:
        outdir = Path(HydraConfig.get().runtime.output_dir)
    except ValueError:
        outdir = Path(cfg.paths.results_dir) / "runs" / uuid.uuid4().hex[:8]
    task = str(cfg.get("task", "cell"))
    if task not in TASKS:
        raise ConfigError(f"task={task!r} is unknown; use one of {', '.join(TASKS)}")
    record = TASKS[task](cfg, outdir)
    if HydraConfig.get().mode.name == "RUN":
        aggregate(outdir)
        if record["status"] != "ok":  # a single run that failed exits non-zero, with its named error
            print(f"tailbench: the run {record['status']}: {record['error']}", file=sys.stderr)
            sys.exit(1)
    return 0.0 if record["status"] == "ok" else None


if __name__ == "__main__":
    main()
