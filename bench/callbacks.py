"""Hydra callback: aggregate a sweep when the multirun ends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("tailbench")


class AggregateCallback(Callback):
    """On multirun end, write summary.parquet and comparison.{csv,md} and print the table."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from bench.report.build import build_reports

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            build_reports(sweep_dir)
        except Exception as exc:  # noqa: BLE001 - never lose the sweep over its summary
            log.error("could not aggregate %s: %s: %s", sweep_dir, type(exc).__name__, exc)
