"""The plugin is found the way an outside package should be: entry points and Hydra's search path."""

from __future__ import annotations

from importlib.metadata import entry_points, version

import pytest
from hydra import compose, initialize_config_dir

from bench import CONF_DIR
from bench.generators.registry import ENTRY_POINT_GROUP, available_generators, generator_class, make_generator
from bench.run.cell import build_generator


def test_distribution_and_pins_are_installed():
    assert version("tailbench-mbi") == "0.1.0"
    assert version("mbi") == "1.1.0"
    assert version("jax") == "0.7.1" and version("jaxlib") == "0.7.1"
    import numpy

    assert numpy.__version__ == "1.26.4"  # anonymeter 1.1.0 needs numpy < 1.27


def test_entry_points_register_mst_and_aim():
    from tailbench_mbi import AIMGenerator, MSTGenerator

    eps = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert eps["mst"] == "tailbench_mbi:MSTGenerator"
    assert eps["aim"] == "tailbench_mbi:AIMGenerator"
    assert {"mst", "aim"} <= set(available_generators())
    assert generator_class("mst") is MSTGenerator
    assert generator_class("aim") is AIMGenerator
    assert isinstance(make_generator("aim", epsilon=2.0), AIMGenerator)


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_hydra_finds_the_plugin_configs(name):
    # tailbench's own conf/ has no mst.yaml or aim.yaml: they come from pkg://tailbench_mbi.conf,
    # added by the SearchPathPlugin in hydra_plugins/tailbench_mbi
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"generator={name}", "generator.epsilon=4", "seed=7"])
    assert cfg.generator.name == name
    assert cfg.generator._target_ == f"tailbench_mbi.{name.upper()}Generator"
    gen = build_generator(cfg.generator, seed=7)
    assert gen.name == name and gen.epsilon == 4 and gen.random_state == 7
    assert gen.tuned_on == "none"


def test_hydra_composes_the_epsilon_sweep_with_the_plugin():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=epsilon_sweep"], return_hydra_config=True)
    gens = cfg.hydra.sweeper.params.generator.split(",")
    assert {"mst", "aim"} <= set(gens)
