"""Kubernetes name and label rules (SPEC 7.5).

Job names are lower-cased (Kubernetes requires it); label names and values keep
their case, which Kubernetes allows.
"""

from __future__ import annotations

from launchbay._internal.text import slugify

# generateName gets a 5-character random suffix; 45 + "-" + 5 stays well within
# the 63 characters a job name may have (it becomes a pod label value).
JOB_NAME_MAX_LENGTH = 45
LABEL_PREFIX_MAX_LENGTH = 253
LABEL_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
_LABEL_STRIP = "_-."


def job_name(name: str) -> str:
    """A job name (without generateName's ``-``): ``[a-z0-9-]``, at most 45
    characters, starting and ending with a letter or digit. May be empty."""
    return slugify(name, allowed="a-z0-9", lowercase=True, max_length=JOB_NAME_MAX_LENGTH, strip="-")


def label_key(key: str) -> str:
    """``prefix/name`` made valid; a part that slugifies to nothing keeps its
    original text so that Kubernetes reports the problem."""
    prefix, slash, name = key.rpartition("/")
    slug_name = (
        slugify(name, allowed="a-zA-Z0-9._-", max_length=LABEL_NAME_MAX_LENGTH, strip=_LABEL_STRIP) or name
    )
    if not slash:
        return slug_name
    slug_prefix = (
        slugify(
            prefix,
            allowed="a-z0-9.-",
            lowercase=True,
            max_length=LABEL_PREFIX_MAX_LENGTH,
            strip=_LABEL_STRIP,
        )
        or prefix
    )
    return f"{slug_prefix}/{slug_name}"


def label_value(value: str) -> str:
    """``[a-zA-Z0-9._-]``, at most 63 characters, starting and ending with a
    letter or digit; falls back to the original when nothing is left."""
    return (
        slugify(value, allowed="a-zA-Z0-9._-", max_length=LABEL_VALUE_MAX_LENGTH, strip=_LABEL_STRIP) or value
    )
