"""Every experiment composes with its sweep expanded, and every generator it names fits a small table.

In the manner of lightning-hydra-template's tests/test_configs.py: the
experiment's ``hydra.sweeper.params`` are parsed with Hydra's own override
parser and expanded to the full grid; each cell of the grid must compose, name
a known task, read only known metric-family settings and build its generator;
one configuration of each generator the grid names (each distinct configuration
once per session) is then fitted on 300 rows
of the embedded ``fair`` table (one epoch; a few mirror-descent iterations) and sampled. The ``seed`` axis is
kept to its first value: seeds change no composition.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from bench.cli import CONF_DIR, TASKS
from bench.metrics.families import families
from bench.run.cell import build_generator, metric_settings
from hydra_plugins.tailbench_sweeper.tailbench_sweeper import drop_repeated_non_dp

EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))
FIT = (("epochs", 1), ("verbose", False), ("iters", 30), ("round_iters", 10), ("max_rounds", 2))  # set for the fit
# settings that do not change whether a configuration fits (the ones FIT sets are the same for every fit)
VARY = ("random_state", "epsilon", *(k for k, _ in FIT))
FITTED: set = set()  # generator configurations already fitted in this session (experiments share many)


def _compose(overrides: list[str], hydra_config: bool = False):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=hydra_config)


def sweep_grid(experiment: str) -> list[list[str]]:
    """The experiment's sweep expanded: one list of ``key=value`` overrides per cell of the grid."""
    cfg = _compose([f"experiment={experiment}"], hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.sweeper.params or {}, resolve=False) or {}
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    axes = [
        [f"{o.get_key_element()}={v}" for v in (o.sweep_string_iterator() if o.is_sweep_override() else [o.value()])]
        for o in parsed
    ]
    axes = [a[:1] if a[0].startswith("seed=") else a for a in axes]
    grid = [list(cell) for cell in itertools.product(*axes)] if axes else [[]]
    return drop_repeated_non_dp(grid, cfg.hydra.runtime.choices.get("generator"))  # what the sweeper runs


@pytest.fixture(scope="session")
def small(fair):
    return fair.frame.sample(n=500, random_state=0).sort_index().iloc[:300], fair.schema


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_cell_of_every_experiment_composes_builds_and_fits(experiment, small):
    train, schema = small
    grid = sweep_grid(experiment)
    assert len(grid) >= 2, f"{experiment}: a sweep of one cell"
    sections = {sec for _, sec, _ in families().values()}
    assert len({tuple(c) for c in grid}) == len(grid), f"{experiment}: duplicated cells"
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):  # one config loader for the grid
        cfgs = [(cell, compose(config_name="config", overrides=[f"experiment={experiment}", *cell])) for cell in grid]
    for cell, cfg in cfgs:
        assert str(cfg.get("task", "cell")) in TASKS, (experiment, cell)
        assert cfg.dataset.get("_target_"), (experiment, cell)
        assert set(metric_settings(cfg)) <= sections, (experiment, cell, set(metric_settings(cfg)) - sections)
        gen = build_generator(cfg.generator, int(cfg.seed), cfg.get("epsilon"))
        assert hasattr(gen, "fit") and hasattr(gen, "sample"), (experiment, cell)
        if cfg.get("epsilon") is not None and "epsilon" in gen.get_params():  # the top-level axis reached it
            assert float(gen.epsilon) == float(cfg.epsilon), (experiment, cell)
        for key, value in (c.split("=", 1) for c in cell):  # the swept value reached the config
            got = OmegaConf.select(cfg, key)
            assert key == "generator" or str(got) == value or float(got) == float(value), (key, got, value)
        key = (type(gen).__name__, repr(sorted((k, v) for k, v in gen.get_params().items() if k not in VARY)))
        if key in FITTED:
            continue
        FITTED.add(key)
        for k, v in FIT:
            if hasattr(gen, k):
                setattr(gen, k, v)
        out = gen.fit(train, schema).sample(20)
        assert isinstance(out, pd.DataFrame) and len(out) == 20, (experiment, cell)
