"""Finding and reading kubeconfig files, as kubectl does: ``KUBECONFIG`` (a
list of files, merged) or ``~/.kube/config``.

Used by ``KubernetesClusterConfig.from_file`` (which stores what it reads) and
by the runner's connection (which hands the files to the client library).
Pure file reading: no client library, no network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_KUBECONFIG = "~/.kube/config"


def default_location() -> str:
    """What the Kubernetes client reads by default: ``KUBECONFIG`` (possibly a
    list of files) or ``~/.kube/config``."""
    return os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


@dataclass(frozen=True)
class KubeconfigFiles:
    """The files a kubeconfig location names (expanded, absolute), and those of
    them that exist, in order."""

    candidates: tuple[Path, ...]
    existing: tuple[Path, ...]

    def describe(self) -> str:
        return ", ".join(repr(str(file)) for file in self.candidates)


def locate(path: str | Path | None = None) -> KubeconfigFiles:
    """The kubeconfig files of ``path``, or of the default location when None."""
    parts = [str(path)] if path is not None else default_location().split(os.pathsep)
    candidates = tuple(Path(part).expanduser().resolve() for part in parts if part)
    return KubeconfigFiles(candidates, tuple(file for file in candidates if file.is_file()))


def read(path: str | Path | None = None) -> tuple[dict[str, Any], str]:
    """The parsed kubeconfig and a description of where it came from. A list of
    files is merged as kubectl does: the first file to define a name or the
    current context wins."""
    files = locate(path)
    if not files.existing:
        raise ValueError(
            f"No kubeconfig file at {files.describe()}: pass a path, or set KUBECONFIG to your kubeconfig."
        )
    if len(files.existing) == 1:
        return load_file(files.existing[0]), repr(str(files.existing[0]))
    merged: dict[str, Any] = {}
    for file in files.existing:
        for key, value in load_file(file).items():
            if key in ("clusters", "contexts", "users"):
                known = {entry.get("name") for entry in merged.setdefault(key, [])}
                merged[key].extend(
                    entry
                    for entry in value or []
                    if isinstance(entry, dict) and entry.get("name") not in known
                )
            elif key not in merged or (key == "current-context" and not merged[key]):
                merged[key] = value
    return merged, "KUBECONFIG (" + ", ".join(str(file) for file in files.existing) + ")"


def load_file(file: Path) -> dict[str, Any]:
    """One kubeconfig file's mapping (empty for an empty file)."""
    import yaml

    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"Cannot read kubeconfig {str(file)!r}: {exc.strerror or exc}.") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"Kubeconfig {str(file)!r} is not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ValueError(f"Kubeconfig {str(file)!r} is not a kubeconfig mapping.")
    return document
