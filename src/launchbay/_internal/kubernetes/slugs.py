"""Kubernetes name and label rules (SPEC 7.5).

Job names are lower-cased (Kubernetes requires it); label names and values keep
their case, which Kubernetes allows. Each run of characters a part may not hold
becomes one ``-``, swallowing the dashes beside it, so a replacement never
leaves ``--`` (``a-$@*-b`` -> ``a-b``).
"""

from __future__ import annotations

import re

# generateName gets a 5-character random suffix; 45 + "-" + 5 stays well within
# the 63 characters a job name may have (it becomes a pod label value).
JOB_NAME_MAX_LENGTH = 45
LABEL_PREFIX_MAX_LENGTH = 253
LABEL_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
_LABEL_STRIP = "_-."
# A run of characters a part may not hold, with the dashes in and beside it:
# leading dashes, one invalid character, then invalid characters and dashes.
_NOT_JOB_NAME = re.compile("[^a-z0-9]+")
_NOT_LABEL = re.compile("-*[^a-zA-Z0-9._-][^a-zA-Z0-9._]*")
_NOT_PREFIX = re.compile("-*[^a-z0-9.-][^a-z0-9.]*")


def _slug(
    value: str, invalid: re.Pattern[str], max_length: int, strip: str, *, lowercase: bool = False
) -> str:
    if lowercase:
        value = value.lower()
    return invalid.sub("-", value)[:max_length].strip(strip)


def job_name(name: str) -> str:
    """A job name (without generateName's ``-``): ``[a-z0-9-]``, at most 45
    characters, starting and ending with a letter or digit. May be empty."""
    return _slug(name, _NOT_JOB_NAME, JOB_NAME_MAX_LENGTH, "-", lowercase=True)


def label_key(key: str) -> str:
    """``prefix/name`` made valid. The prefix ends at the first ``/`` (later
    ones are invalid name characters); an empty prefix is dropped. A part that
    slugifies to nothing keeps its original text so that Kubernetes reports
    the problem."""
    prefix, slash, name = key.partition("/")
    if not slash:
        prefix, name = "", key
    slug_name = _slug(name, _NOT_LABEL, LABEL_NAME_MAX_LENGTH, _LABEL_STRIP)
    if not slug_name:
        return key
    if not prefix:
        return slug_name
    slug_prefix = _slug(prefix, _NOT_PREFIX, LABEL_PREFIX_MAX_LENGTH, _LABEL_STRIP, lowercase=True)
    return f"{slug_prefix or prefix}/{slug_name}"


def label_value(value: str) -> str:
    """``[a-zA-Z0-9._-]``, at most 63 characters, starting and ending with a
    letter or digit; falls back to the original when nothing is left."""
    return _slug(value, _NOT_LABEL, LABEL_VALUE_MAX_LENGTH, _LABEL_STRIP) or value
