"""The names of launchbay's loggers, one per kind (``launchbay.infrastructure.<type>``)."""

from __future__ import annotations

import logging

PROCESS = "launchbay.infrastructure.process"
DOCKER = "launchbay.infrastructure.docker-container"
KUBERNETES = "launchbay.infrastructure.kubernetes-job"


def logger_for(kind: str) -> logging.Logger:
    """The logger of one kind of infrastructure, by its ``type``."""
    return logging.getLogger(f"launchbay.infrastructure.{kind}")
