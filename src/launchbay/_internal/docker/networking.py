"""How a container reaches the API URL launchbay gives it: network mode,
``host.docker.internal`` and rewriting ``localhost`` in the URL.

The decisions are pure functions of the configuration, the platform and the
engine version, so they are tested without an engine.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from launchbay._internal.docker.engine_version import (
    HOST_GATEWAY_MIN_VERSION,
    parse_engine_version,
)

API_URL_ENV = "LAUNCHBAY_API_URL"
HOST_DOCKER_INTERNAL = "host.docker.internal"
LOCAL_HOSTS = ("localhost", "127.0.0.1")

logger = logging.getLogger("launchbay.infrastructure.docker-container")


@dataclass(frozen=True)
class ApiUrl:
    """The API URL the container is given, and where it came from."""

    value: str | None
    from_env: bool  # the block's ``env`` set it (else: the settings)

    @cached_property
    def hostname(self) -> str | None:
        """The URL's host, or None (with one warning) when it cannot be parsed."""
        if not self.value:
            return None
        try:
            host = urlsplit(self.value).hostname
            problem = "it has no host"
        except ValueError as exc:
            host, problem = None, str(exc)
        if host is None:
            logger.warning(
                "Could not parse the API URL %r (%s); the container's network is not inferred from it.",
                self.value,
                problem,
            )
        return host

    def is_local(self) -> bool:
        return self.hostname in LOCAL_HOSTS

    def is_explicitly_remote(self) -> bool:
        host = self.hostname
        return host is not None and host not in LOCAL_HOSTS and host != HOST_DOCKER_INTERNAL


def is_linux(platform: str | None = None) -> bool:
    return (platform or sys.platform).startswith("linux")


def network_mode(
    requested: str | None, networks: list[str], api_url: ApiUrl, platform: str | None = None
) -> str | None:
    """The user's mode wins; with ``networks`` none is inferred; otherwise
    ``host`` on Linux when the API URL is local (the container then reaches
    it as the host does)."""
    if requested:
        if requested == "host" and not is_linux(platform):
            logger.warning(
                "network_mode 'host' was requested, but host networking only works on "
                "Linux engines; the container may not reach the host as expected."
            )
        return requested
    if networks:
        return None
    if is_linux(platform) and api_url.is_local():
        return "host"
    return None


def extra_hosts(
    api_url: ApiUrl,
    engine_version: str | None,
    network_mode_value: str | None,
    platform: str | None = None,
) -> list[str] | None:
    """``host.docker.internal:host-gateway`` on Linux, unless the API URL is
    explicitly remote; only engines >= 20.10 understand ``host-gateway``.
    ``engine_version`` None means "assume a recent engine" (previews)."""
    if not is_linux(platform) or api_url.is_explicitly_remote():
        return None
    if network_mode_value and network_mode_value.startswith("container:"):
        return None  # shares another container's /etc/hosts; Docker refuses extra hosts
    if engine_version is not None:
        parsed = parse_engine_version(engine_version)
        if parsed is None:
            logger.warning(
                "Could not parse the Docker Engine version %r; %s will not be mapped to the host.",
                engine_version,
                HOST_DOCKER_INTERNAL,
            )
            return None
        if parsed < HOST_GATEWAY_MIN_VERSION:
            logger.warning(
                "Docker Engine %s is older than 20.10 and cannot map %s to the host "
                "(host-gateway); upgrade the engine, or set %s to an address the "
                "container can reach.",
                engine_version,
                HOST_DOCKER_INTERNAL,
                API_URL_ENV,
            )
            return None
    return [f"{HOST_DOCKER_INTERNAL}:host-gateway"]


def rewrite_api_url(api_url: ApiUrl, network_mode_value: str | None) -> str | None:
    """The API URL as the container must see it: when it came from the settings
    and the container has its own network, ``localhost``/``127.0.0.1`` mean the
    container itself, so they become ``host.docker.internal``. None: unchanged."""
    if api_url.value is None or api_url.from_env or network_mode_value == "host":
        return None
    if not api_url.is_local():
        return None
    parts = urlsplit(api_url.value)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host = parts.hostname or ""
    # Replace the host only (case-insensitively), never a path or a password.
    index = hostport.lower().find(host)
    hostport = hostport[:index] + HOST_DOCKER_INTERNAL + hostport[index + len(host) :]
    return parts._replace(netloc=f"{userinfo}{at}{hostport}").geturl()
