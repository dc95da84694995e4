"""Generators: protocol, registry and the built-in families."""

from bench.generators.base import (
    BaseGenerator,
    Generator,
    PrivacySpent,
    available_generators,
    check_output,
    make_generator,
    register,
)

__all__ = ["BaseGenerator", "Generator", "PrivacySpent", "available_generators", "check_output",
           "make_generator", "register"]
