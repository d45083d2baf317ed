"""Image names: the default launchbay image and parsing of image references."""

from __future__ import annotations

import sys

DEV_TAG = "dev"


def default_image(version: str | None = None) -> str:
    """``launchbay/launchbay:<version>-python<major>.<minor>``.

    Development versions (``0.1.0.dev3``, ``0.1.0+g1234``) map to the ``dev`` tag
    the project publishes, since their exact version is never published.
    """
    if version is None:
        from launchbay import __version__

        version = __version__
    if "dev" in version or "+" in version:
        version = DEV_TAG
    return f"launchbay/launchbay:{version}-python{sys.version_info.major}.{sys.version_info.minor}"


def parse_image_tag(name: str) -> tuple[str, str | None]:
    """Split an image reference into (repository, tag).

    ``host:5000/repo:tag`` -> (``host:5000/repo``, ``tag``). A registry port is
    not a tag: only a colon after the last ``/`` starts one. A digest
    (``repo@sha256:...``) is kept on the repository and returned as the tag-less
    reference (``(repo@sha256:..., None)``), since it pins the image exactly.
    """
    if "@" in name:
        return name, None
    last_segment = name.rsplit("/", 1)[-1]
    if ":" in last_segment:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, None
