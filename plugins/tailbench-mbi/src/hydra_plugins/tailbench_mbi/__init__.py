"""Hydra search-path plugin: makes ``generator=mst`` and ``generator=aim`` resolvable.

Hydra scans the ``hydra_plugins`` namespace package for plugins; this one
appends the configs shipped inside :mod:`tailbench_mbi` (``conf/generator/*.yaml``)
to every app's search path. Source: Hydra 1.3 docs, "Config Search Path" and
the example search-path plugin (hydra/examples/plugins/example_searchpath_plugin).
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class TailbenchMbiSearchPathPlugin(SearchPathPlugin):
    """Append ``pkg://tailbench_mbi.conf`` to Hydra's config search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="tailbench-mbi", path="pkg://tailbench_mbi.conf")
