"""Hydra callback: aggregate a sweep when the multirun ends."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("tailbench")


class AggregateCallback(Callback):
    """On multirun end: write summary.parquet, comparison.{csv,md} and the reports, print the table,
    and say how many jobs failed; exit with status 1 when every job failed (Hydra turns a callback's
    exception into a warning, so the callback exits itself)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from bench.report.build import build_reports
        from bench.results import read_run

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            build_reports(sweep_dir)
        except Exception as exc:  # noqa: BLE001 - never lose the sweep over its summary
            log.error("could not aggregate %s: %s: %s", sweep_dir, type(exc).__name__, exc)
        records = [r for r in (read_run(p) for p in sweep_dir.rglob("run.json")) if r]
        failed = [r for r in records if r.get("status") != "ok"]
        if failed:
            print(
                f"{len(failed)} of {len(records)} jobs failed (their errors are listed in "
                f"{sweep_dir / 'comparison.md'})"
            )
        if records and len(failed) == len(records):
            print(f"tailbench: every job of the sweep failed; the first: {failed[0].get('error')}", file=sys.stderr)
            sys.exit(1)
