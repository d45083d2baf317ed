"""Exceptions raised by launchbay."""

from __future__ import annotations


class LaunchbayError(Exception):
    """Base class of launchbay's own errors."""


class InfrastructureNotFound(LaunchbayError):
    """The infrastructure a pid names no longer exists (or never did)."""


class InfrastructureNotAvailable(LaunchbayError):
    """The infrastructure exists elsewhere: this configuration cannot reach it
    (another host, Docker daemon, cluster or namespace)."""


class InfrastructureError(LaunchbayError):
    """The infrastructure could not be created or reached (e.g. no Docker engine).

    ``exit_code`` is what the CLI exits with, after docker's conventions:
    125 launchbay or the engine failed, 126 not executable, 127 not found.
    """

    def __init__(self, message: str, *, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class BlockError(LaunchbayError, ValueError):
    """A block cannot be saved, loaded or deleted as asked."""


class BlockNotFound(BlockError, LookupError):
    """No block is saved under that name."""


class BlockAlreadyExists(BlockError):
    """A block is already saved under that name and ``overwrite`` was not set."""


class MaskedSecretError(BlockError):
    """A secret field holds the mask ``**********`` (what ``load`` prints), not a
    secret, and there is no stored secret to keep in its place."""


class StoreError(LaunchbayError):
    """The block store cannot be read or written (a broken, foreign, read-only or
    unreachable store, a ``LAUNCHBAY_HOME`` that is not a usable directory).

    The message is one line naming the store (a database URL with its password
    masked) and what to do. ``exit_code`` is what the CLI exits with: 125, as for
    launchbay's own failures.
    """

    exit_code: int = 125
