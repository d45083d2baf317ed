"""Network mode, host.docker.internal and API URL rewriting (SPEC 6)."""

from __future__ import annotations

import pytest

from launchbay._internal.docker.networking import (
    ApiUrl,
    api_url_warning,
    extra_hosts,
    network_mode,
    rewrite_api_url,
)

LOCAL = ApiUrl("http://localhost:4200/api", from_env=False)
LOOPBACK = ApiUrl("http://127.0.0.1:4200/api", from_env=False)
REMOTE = ApiUrl("https://api.example.com/api", from_env=False)
NONE = ApiUrl(None, from_env=False)
GATEWAY = ("host.docker.internal:host-gateway",), None
NO_HOSTS = (), None


class TestNetworkMode:
    def test_the_users_mode_wins(self) -> None:
        assert network_mode("bridge", [], LOCAL, "linux") == ("bridge", None)
        assert network_mode("none", ["net"], LOCAL, "linux") == ("none", None)

    def test_host_off_linux_warns(self) -> None:
        mode, warning = network_mode("host", [], NONE, "darwin")
        assert mode == "host"
        assert warning is not None and "only works on Linux" in warning

    def test_networks_leave_it_unset(self) -> None:
        assert network_mode(None, ["a", "b"], LOCAL, "linux") == (None, None)

    @pytest.mark.parametrize(
        "url",
        [
            LOCAL,
            LOOPBACK,
            ApiUrl("http://LOCALHOST/api", from_env=False),
            ApiUrl("http://LocalHost:4200", False),
        ],
    )
    def test_host_on_linux_when_the_api_url_is_local(self, url: ApiUrl) -> None:
        assert network_mode(None, [], url, "linux") == ("host", None)

    def test_local_url_from_env_counts_too(self) -> None:
        assert network_mode(None, [], ApiUrl("http://localhost:1", from_env=True), "linux") == ("host", None)

    @pytest.mark.parametrize("url", [REMOTE, NONE])
    def test_unset_otherwise(self, url: ApiUrl) -> None:
        assert network_mode(None, [], url, "linux") == (None, None)

    def test_not_host_off_linux(self) -> None:
        assert network_mode(None, [], LOCAL, "darwin") == (None, None)
        assert network_mode(None, [], LOCAL, "win32") == (None, None)

    def test_unparsable_api_url_warns_and_does_not_fail(self) -> None:
        url = ApiUrl("http://[::1", from_env=False)
        assert network_mode(None, [], url, "linux") == (None, None)
        warning = api_url_warning(url)
        assert warning is not None and "Could not parse the API URL 'http://[::1'" in warning

    def test_an_api_url_without_a_host_warns(self) -> None:
        warning = api_url_warning(ApiUrl("just-words", from_env=False))
        assert warning is not None and "it has no host" in warning

    @pytest.mark.parametrize("url", [LOCAL, REMOTE, NONE])
    def test_parsable_or_unset_urls_do_not_warn(self, url: ApiUrl) -> None:
        assert api_url_warning(url) is None


class TestExtraHosts:
    def test_mapped_on_linux_for_recent_engines(self) -> None:
        assert extra_hosts(NONE, "20.10.24+dfsg1", None, "linux") == GATEWAY
        assert extra_hosts(LOCAL, "24.0.7", None, "linux") == GATEWAY

    def test_not_when_the_api_url_is_explicitly_remote(self) -> None:
        assert extra_hosts(REMOTE, "24.0.7", None, "linux") == NO_HOSTS

    def test_not_off_linux(self) -> None:
        assert extra_hosts(NONE, "24.0.7", None, "darwin") == NO_HOSTS

    def test_old_engines_warn(self) -> None:
        hosts, warning = extra_hosts(NONE, "19.03.15", None, "linux")
        assert hosts == ()
        assert warning is not None and "older than 20.10" in warning

    def test_unparsable_versions_warn(self) -> None:
        hosts, warning = extra_hosts(NONE, "nightly", None, "linux")
        assert hosts == ()
        assert warning is not None and "Could not parse the Docker Engine version" in warning

    def test_unknown_version_assumes_a_recent_engine(self) -> None:
        assert extra_hosts(NONE, None, None, "linux") == GATEWAY

    def test_not_with_another_containers_network(self) -> None:
        assert extra_hosts(NONE, "24.0.7", "container:abc", "linux") == NO_HOSTS


class TestApiUrlRewrite:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("http://localhost:4200/api", "http://host.docker.internal:4200/api"),
            ("http://127.0.0.1:4200/api", "http://host.docker.internal:4200/api"),
            ("http://LOCALHOST/api/localhost", "http://host.docker.internal/api/localhost"),
            ("http://LocalHost:4200", "http://host.docker.internal:4200"),
            ("http://me:localhost@localhost:1/x", "http://me:localhost@host.docker.internal:1/x"),
        ],
    )
    def test_local_hosts_from_settings_become_host_docker_internal(self, url: str, expected: str) -> None:
        assert rewrite_api_url(ApiUrl(url, from_env=False), None) == expected
        assert rewrite_api_url(ApiUrl(url, from_env=False), "bridge") == expected

    def test_not_with_host_networking(self) -> None:
        assert rewrite_api_url(LOCAL, "host") is None

    def test_not_when_the_user_set_it_in_env(self) -> None:
        assert rewrite_api_url(ApiUrl("http://localhost:4200", from_env=True), None) is None

    def test_remote_urls_are_left_alone(self) -> None:
        assert rewrite_api_url(REMOTE, None) is None
        assert rewrite_api_url(NONE, None) is None
