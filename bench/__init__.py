"""tailbench: a benchmark harness for tabular synthetic data.

Fidelity, utility and privacy of synthetic tables measured on fixed splits,
with the tail (rare categories, outliers) reported beside the average.
"""

__version__ = "0.1.0"
