"""Container labels: Docker's reverse-DNS key convention, plus launchbay's own."""

from __future__ import annotations

MANAGED_LABEL = "io.launchbay.managed"
VERSION_LABEL = "io.launchbay.version"


def to_docker_label_key(key: str) -> str:
    """``a.b.c/key`` -> ``c.b.a.key``; a key without a ``/`` namespace is kept."""
    namespace, slash, name = key.partition("/")
    if not slash:
        return key
    return ".".join(reversed(namespace.split("."))) + "." + name


def container_labels(labels: dict[str, str]) -> dict[str, str]:
    """The user's labels in Docker's form, then launchbay's identifying labels
    (which nothing overrides: tooling finds launchbay's containers by them)."""
    from launchbay import __version__

    converted = {to_docker_label_key(key): value for key, value in labels.items()}
    converted[MANAGED_LABEL] = "true"
    converted.setdefault(VERSION_LABEL, __version__)
    return converted
