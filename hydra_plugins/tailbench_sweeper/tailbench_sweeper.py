"""The epsilon axis of a sweep: DP generators take every value, the others run once.

Hydra's basic sweeper runs the full grid: ``generator=identity,dp_tvae
epsilon=1,4,inf seed=0,1`` would fit ``identity`` three times per seed with the
same seed and nothing else changed. This sweeper is the basic sweeper with one
rule: a job whose generator takes no ``epsilon`` (a non-DP generator) runs only
for the first value of the swept ``epsilon``; its run record then says
``epsilon: null`` and the comparison table shows it once with ε "—". Every
other parameter expands as in the basic sweeper.
"""

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.types import Override

log = logging.getLogger(__name__)


@dataclass
class TailbenchSweeperConf:
    _target_: str = "hydra_plugins.tailbench_sweeper.tailbench_sweeper.TailbenchSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


ConfigStore.instance().store(group="hydra/sweeper", name="tailbench", node=TailbenchSweeperConf, provider="tailbench")


def takes_epsilon(generator: str) -> bool:
    """Whether the generator a config name selects has an ``epsilon`` argument (a DP generator).

    The config ``conf/generator/<name>.yaml`` names its class (``_target_``);
    otherwise the name is looked up among the registered generators (entry
    points included). Unknown: True (nothing is dropped).
    """
    from omegaconf import OmegaConf

    from bench import CONF_DIR
    from bench.generators.registry import generator_class

    cls: Any = None
    path = Path(CONF_DIR) / "generator" / f"{generator}.yaml"
    try:
        if path.exists():
            from hydra.utils import get_class

            cls = get_class(OmegaConf.load(path)["_target_"])
        else:
            cls = generator_class(generator)
    except Exception:  # noqa: BLE001 - an unknown generator is reported by its job
        return True
    return "epsilon" in inspect.signature(cls.__init__).parameters


def drop_repeated_non_dp(jobs: list[list[str]], default_generator: str | None) -> list[list[str]]:
    """Remove the jobs of non-DP generators at every ``epsilon`` value but the first.

    Args:
        jobs: the full grid, one list of ``key=value`` overrides per job.
        default_generator: the generator of jobs that do not override ``generator``.
    """

    def value(job: list[str], key: str) -> str | None:
        for o in job:
            k, _, v = o.partition("=")
            if k.lstrip("+~") == key:
                return v
        return None

    eps = [value(j, "epsilon") for j in jobs]
    if all(e is None for e in eps):
        return jobs
    first = next(e for e in eps if e is not None)
    cache: dict[str, bool] = {}
    kept = []
    for job, e in zip(jobs, eps):
        gen = value(job, "generator") or default_generator
        if e is not None and e != first and gen is not None:
            if gen not in cache:
                cache[gen] = takes_epsilon(gen)
            if not cache[gen]:
                continue
        kept.append(job)
    if len(kept) < len(jobs):
        log.info(
            "tailbench sweeper: %d of %d jobs dropped (non-DP generators run once, at epsilon=%s)",
            len(jobs) - len(kept),
            len(jobs),
            first,
        )
    return kept


class TailbenchSweeper(BasicSweeper):
    """Hydra's basic sweeper with non-DP generators run once across the ``epsilon`` axis."""

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:
        jobs = BasicSweeper.split_arguments(overrides, None)[0]
        default = None
        if self.config is not None:
            default = self.config.hydra.runtime.choices.get("generator")
        jobs = drop_repeated_non_dp(jobs, default)
        if max_batch_size is None:
            return [jobs]
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size))
