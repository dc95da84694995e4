"""tailbench-mbi: MST and AIM on Private-PGM (``mbi``), a tailbench generator plugin.

Installed beside tailbench, it registers ``mst`` and ``aim`` under the
entry-point group ``tailbench.generators`` and adds ``pkg://tailbench_mbi.conf``
to Hydra's search path (``hydra_plugins/tailbench_mbi``), so
``tailbench generator=mst`` and ``generator=aim`` work like built-in configs.

JAX compiles every Private-PGM estimate anew (a new clique set is a new
program); on CPU its default LLVM optimisation level spends more time
compiling than computing (measured on full Adult: about 2x longer per AIM
round). Unless ``XLA_FLAGS`` already sets ``--xla_backend_optimization_level``,
importing this package sets it to 0 before JAX starts. It changes run time
only, not what is computed.
"""

from __future__ import annotations

import os

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

from pathlib import Path  # noqa: E402

from tailbench_mbi.aim import AIMGenerator  # noqa: E402
from tailbench_mbi.mst import MSTGenerator  # noqa: E402

__version__ = "0.1.0"
#: the plugin's Hydra configs (``generator/mst.yaml``, ``generator/aim.yaml``), on Hydra's search path
PLUGIN_CONF = Path(__file__).resolve().parent / "conf"
__all__ = ["AIMGenerator", "MSTGenerator", "PLUGIN_CONF", "__version__"]
