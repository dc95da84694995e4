"""Generators: protocol, base class and the registry of built-in families."""

from bench.generators.base import BaseGenerator, Generator, PrivacySpent, check_output
from bench.generators.registry import available_generators, generator_class, make_generator

__all__ = [
    "BaseGenerator",
    "Generator",
    "PrivacySpent",
    "available_generators",
    "check_output",
    "generator_class",
    "make_generator",
]
