"""How a container reaches the API URL launchbay gives it: network mode,
``host.docker.internal`` and rewriting ``localhost`` in the URL.

The decisions are pure functions of the configuration, the platform and the
engine version, so they are tested without an engine. A decision that the
user should hear about returns its warning (the caller issues it: SPEC 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from launchbay._internal import urls
from launchbay._internal.docker.engine_version import HOST_GATEWAY_MIN_VERSION, parse_engine_version

HOST_DOCKER_INTERNAL = "host.docker.internal"


@dataclass(frozen=True)
class ApiUrl:
    """The API URL the container is given, and where it came from."""

    value: str | None
    from_env: bool  # the block's ``env`` set it (else: the settings)

    @property
    def hostname(self) -> str | None:
        """The URL's host, lower-cased; None when unset or unparsable."""
        return urls.url_host(self.value) if self.value else None

    @property
    def problem(self) -> str | None:
        """Why a set URL gives no host (None: it parses, or is unset)."""
        if not self.value or self.hostname is not None:
            return None
        try:
            urlsplit(self.value)
        except ValueError as exc:
            return str(exc)
        return "it has no host"

    def is_local(self) -> bool:
        return urls.is_local(self.value)

    def is_explicitly_remote(self) -> bool:
        host = self.hostname
        return host is not None and host not in urls.LOCAL_HOSTS and host != HOST_DOCKER_INTERNAL


def api_url_warning(api_url: ApiUrl) -> str | None:
    problem = api_url.problem
    if problem is None:
        return None
    return (
        f"Could not parse the API URL {api_url.value!r} ({problem}); the container's network "
        "is not inferred from it."
    )


def is_linux(platform: str) -> bool:
    return platform.startswith("linux")


def network_mode(
    requested: str | None, networks: list[str], api_url: ApiUrl, platform: str
) -> tuple[str | None, str | None]:
    """(the mode, a warning or None). The user's mode wins; with ``networks``
    none is inferred; otherwise ``host`` on Linux when the API URL is local
    (the container then reaches it as the host does)."""
    if requested:
        warning = None
        if requested == "host" and not is_linux(platform):
            warning = (
                "network_mode 'host' was requested, but host networking only works on "
                "Linux engines; the container may not reach the host as expected."
            )
        return requested, warning
    if networks:
        return None, None
    if is_linux(platform) and api_url.is_local():
        return "host", None
    return None, None


def extra_hosts(
    api_url: ApiUrl,
    engine_version: str | None,
    network_mode_value: str | None,
    platform: str,
) -> tuple[tuple[str, ...], str | None]:
    """(the hosts, a warning or None): ``host.docker.internal:host-gateway``
    on Linux, unless the API URL is explicitly remote; only engines >= 20.10
    understand ``host-gateway``. ``engine_version`` None means "assume a
    recent engine" (previews)."""
    if not is_linux(platform) or api_url.is_explicitly_remote():
        return (), None
    if network_mode_value and network_mode_value.startswith("container:"):
        return (), None  # shares another container's /etc/hosts; Docker refuses extra hosts
    if engine_version is not None:
        parsed = parse_engine_version(engine_version)
        if parsed is None:
            return (), (
                f"Could not parse the Docker Engine version {engine_version!r}; "
                f"{HOST_DOCKER_INTERNAL} will not be mapped to the host."
            )
        if parsed < HOST_GATEWAY_MIN_VERSION:
            return (), (
                f"Docker Engine {engine_version} is older than 20.10 and cannot map "
                f"{HOST_DOCKER_INTERNAL} to the host (host-gateway); upgrade the engine, or set "
                f"{urls.API_URL_ENV} to an address the container can reach."
            )
    return (f"{HOST_DOCKER_INTERNAL}:host-gateway",), None


def rewrite_api_url(api_url: ApiUrl, network_mode_value: str | None) -> str | None:
    """The API URL as the container must see it: when it came from the settings
    and the container has its own network, ``localhost``/``127.0.0.1`` mean the
    container itself, so they become ``host.docker.internal``. None: unchanged."""
    if api_url.from_env or network_mode_value == "host":
        return None
    return urls.local_url_rewritten(api_url.value, HOST_DOCKER_INTERNAL)
