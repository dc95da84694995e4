"""Named errors raised by tailbench.

Every error a user can cause by bad input or configuration derives from
:class:`TailbenchError`, so that a sweep can record it in a run's ``error`` field
and carry on. Messages name the column, file or setting at fault.
"""

from __future__ import annotations


class TailbenchError(ValueError):
    """Base class of every error caused by input or configuration."""


class DataNotFoundError(TailbenchError, FileNotFoundError):
    """A dataset file is missing; the message says where to put it."""


class ChecksumError(TailbenchError):
    """A dataset file does not match its published SHA-256 checksum."""


class SchemaError(TailbenchError):
    """The table and its declared schema disagree (missing column, bad kind, ...)."""


class EmptyTableError(SchemaError):
    """The table has no rows (or too few to split)."""


class ConfigError(TailbenchError):
    """A setting is invalid (names the setting and the accepted values)."""


class UnknownGeneratorError(ConfigError, KeyError):
    """No generator is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class GeneratorOutputError(TailbenchError):
    """A generator returned a table that breaks the contract (rows, columns, NaN)."""
