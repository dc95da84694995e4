"""Datasets, schema and splits."""

from bench.data.loaders import Dataset, load_adult, load_csv, load_fair
from bench.data.schema import KINDS, Schema
from bench.data.splits import Splits, make_splits

__all__ = ["Dataset", "KINDS", "Schema", "Splits", "load_adult", "load_csv", "load_fair", "make_splits"]
