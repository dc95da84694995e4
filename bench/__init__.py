"""tailbench: a benchmark harness for tabular synthetic data.

Fidelity, utility and privacy of synthetic tables measured on fixed splits,
with the tail (rare categories, outliers) reported beside the average.
"""

from pathlib import Path

__version__ = "0.1.0"
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")  # the Hydra configs (conf/ beside bench/)
