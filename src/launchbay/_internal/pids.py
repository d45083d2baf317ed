"""Infrastructure pids: what each kind's id looks like, parsed in one place.

- process: ``HOST:PID@START`` (``START`` is the process's start time in clock
  ticks since boot, which makes the id name one process even after the kernel
  reuses the pid); the older ``HOST:PID`` is still read.
- docker-container: ``BASE_URL:CONTAINER_ID`` (split on the last colon).
- kubernetes-job: ``CLUSTER_UID:NAMESPACE:JOB_NAME``.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from launchbay.exceptions import InfrastructureNotAvailable, InfrastructureNotFound

# The kernel's hard limit for pid_max (PID_MAX_LIMIT on 64-bit Linux).
MAX_PID = 4_194_304
_ASCII_DIGITS = frozenset("0123456789")


def this_host() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (from
    ``uname`` where there is one: the socket module costs a CLI start)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


def _ascii_int(text: str) -> int | None:
    """An integer written in ASCII digits only (no sign, no spaces, no
    non-ASCII digits, which ``int()`` would accept), else None."""
    if not text or not _ASCII_DIGITS.issuperset(text) or len(text) > 20:
        return None
    return int(text)


# Named tuples, not dataclasses: the CLI's fast path loads this module, and
# ``dataclasses`` (with ``inspect``) costs a start several milliseconds.


class ProcessPid(NamedTuple):
    host: str
    pid: int
    start_ticks: int | None  # None: an older id without the start time

    def __str__(self) -> str:
        suffix = "" if self.start_ticks is None else f"@{self.start_ticks}"
        return f"{self.host}:{self.pid}{suffix}"


class DockerPid(NamedTuple):
    base_url: str
    container_id: str

    def __str__(self) -> str:
        return f"{self.base_url}:{self.container_id}"


class KubernetesPid(NamedTuple):
    cluster_uid: str
    namespace: str
    job_name: str

    def __str__(self) -> str:
        return f"{self.cluster_uid}:{self.namespace}:{self.job_name}"


class InvalidProcessPid(InfrastructureNotFound, ValueError):
    """A process pid that cannot name a run: not found (nothing is signalled),
    and a bad value for callers that check for ValueError."""


def parse_process_pid(text: str) -> ProcessPid:
    """``HOST:PID[@START]``. A malformed or out-of-range pid names no run:
    InvalidProcessPid, and nothing may be signalled for it."""
    host, colon, rest = text.rpartition(":")
    number, at, start = rest.partition("@")
    pid = _ascii_int(number)
    start_ticks = _ascii_int(start) if at else None
    if not colon or not host or pid is None or (at and start_ticks is None):
        raise InvalidProcessPid(
            f"Process {text!r} was not found: invalid process infrastructure pid, "
            "expected HOSTNAME:PID (PID in ASCII digits)."
        )
    if not 1 < pid <= MAX_PID:
        raise InvalidProcessPid(f"Process {text!r} was not found: pid {pid} cannot be a launchbay run.")
    return ProcessPid(host, pid, start_ticks)


def parse_docker_pid(text: str) -> DockerPid:
    """``BASE_URL:CONTAINER_ID``; a base URL that is not a URL is one this kind
    cannot reach: InfrastructureNotAvailable."""
    from urllib.parse import urlsplit

    base_url, colon, container_id = text.rpartition(":")
    try:
        scheme = urlsplit(base_url).scheme if colon else ""
    except ValueError:
        scheme = ""
    if not colon or not container_id or not scheme or "://" not in base_url:
        raise InfrastructureNotAvailable(
            f"{text!r} is not a Docker container pid this can reach: expected "
            "BASE_URL:CONTAINER_ID with a base URL such as unix:///var/run/docker.sock."
        )
    return DockerPid(base_url, container_id)


def parse_kubernetes_pid(text: str) -> KubernetesPid:
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise InfrastructureNotAvailable(
            f"{text!r} is not a Kubernetes job pid: expected CLUSTER_UID:NAMESPACE:JOB_NAME."
        )
    return KubernetesPid(*parts)


def kind_of_pid(text: str) -> str:
    """Which kind of infrastructure a pid belongs to, from its shape alone
    (``process``, ``docker-container`` or ``kubernetes-job``)."""
    if "://" in text:
        return "docker-container"
    parts = text.split(":")
    if len(parts) == 2 and all(parts):
        return "process"
    if len(parts) == 3 and all(parts):
        return "kubernetes-job"
    raise ValueError(
        f"Cannot tell what {text!r} is: expected HOST:PID (process), "
        "BASE_URL:CONTAINER_ID (Docker) or CLUSTER_UID:NAMESPACE:JOB (Kubernetes)."
    )
