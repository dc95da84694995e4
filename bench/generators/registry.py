"""Generators by name: the built-in table and the ``tailbench.generators`` entry points.

:data:`BUILTIN` is the literal table of tailbench's generators, each a
``"module:Class"`` path imported on first use (so this module imports no
generator and no generator imports it: the graph stays acyclic). Outside
packages add generators through the entry-point group
:data:`ENTRY_POINT_GROUP`, e.g. in their ``pyproject.toml``::

    [project.entry-points."tailbench.generators"]
    mine = "mypkg:MyGenerator"
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from bench.errors import UnknownGeneratorError

ENTRY_POINT_GROUP = "tailbench.generators"

BUILTIN: dict[str, str] = {
    "identity": "bench.generators.baselines:IdentityGenerator",
    "noisy_identity": "bench.generators.baselines:NoisyIdentityGenerator",
    "independent": "bench.generators.baselines:IndependentGenerator",
    "faker": "bench.generators.baselines:FakerGenerator",
    "gaussian_copula": "bench.generators.sdv:GaussianCopulaGenerator",
    "ctgan": "bench.generators.sdv:CTGANGenerator",
    "tvae": "bench.generators.sdv:TVAEGenerator",
    "dp_tvae": "bench.generators.dp_tvae:DPTVAEGenerator",
    "dp_ctgan": "bench.generators.dp_ctgan:DPCTGANGenerator",
    "dp_marginals": "bench.generators.laplace:DPMarginalsGenerator",
}


def available_generators() -> list[str]:
    """Names of built-in and entry-point generators."""
    return sorted(set(BUILTIN) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def generator_class(name: str) -> type:
    """The class registered under ``name`` (built-in or entry point).

    Raises:
        UnknownGeneratorError: naming the unknown generator and the available ones.
    """
    if name in BUILTIN:
        mod, _, cls = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(mod), cls)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    raise UnknownGeneratorError(f"unknown generator {name!r}; available: {', '.join(available_generators())}")


def make_generator(name: str, **kwargs: Any) -> Any:
    """Build a generator by registered name (see :func:`generator_class`)."""
    return generator_class(name)(**kwargs)


__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "available_generators", "generator_class", "make_generator"]
