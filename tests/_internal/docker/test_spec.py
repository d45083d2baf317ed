"""The frozen spec of a container run, built without an engine (SPEC 6)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from launchbay._internal.docker.images import ImagePullPolicy
from launchbay._internal.docker.spec import ContainerSpec, build_spec

GATEWAY = "host.docker.internal:host-gateway"


@dataclass
class Fields:
    """The block's values, without the block."""

    image: str = "busybox:1.36"
    image_pull_policy: ImagePullPolicy | None = None
    name: str | None = None
    command: list[str] | None = field(default_factory=lambda: ["echo", "hi"])
    env: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)
    network_mode: str | None = None
    auto_remove: bool = False
    volumes: list[str] = field(default_factory=list)
    mem_limit: float | str | None = None
    memswap_limit: int | str | None = None
    privileged: bool = False
    cpus: float | None = None
    shm_size: int | str | None = None
    gpus: int | Literal["all"] | None = None
    user: str | None = None
    timeout_seconds: float | None = None


def spec(
    *,
    base: dict[str, str] | None = None,
    api_url: str | None = None,
    platform: str = "linux",
    engine_version: str | None = "20.10.24+dfsg1",
    **fields: Any,
) -> ContainerSpec:
    return build_spec(
        Fields(**fields),
        base_environment=base or {},
        settings_api_url=api_url,
        platform=platform,
        engine_version=engine_version,
    )


def env_of(built: ContainerSpec) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in built.env)


class TestBody:
    def test_the_creation_request(self) -> None:
        built = spec(
            name="my_flow*run",
            env={"A": "1", "GONE": None},
            base={"LAUNCHBAY_LOGGING_LEVEL": "DEBUG"},
            labels={"example.com/team": "x"},
            volumes=["/host:/container"],
            mem_limit="512m",
            memswap_limit="1g",
            privileged=True,
            auto_remove=True,
        )
        assert built.name == "my_flow-run"
        body = built.create_body()
        assert list(body) == ["Image", "Cmd", "Env", "Labels", "HostConfig"]
        assert body["Image"] == "busybox:1.36"
        assert body["Cmd"] == ["echo", "hi"]
        assert body["Env"] == ["LAUNCHBAY_LOGGING_LEVEL=DEBUG", "A=1"]
        assert body["Labels"]["com.example.team"] == "x"
        assert body["Labels"]["io.launchbay.managed"] == "true"
        assert body["HostConfig"] == {
            "AutoRemove": True,
            "Privileged": True,
            "Binds": ["/host:/container"],
            "Memory": 512 << 20,
            "MemorySwap": 1 << 30,
            "ExtraHosts": [GATEWAY],
        }

    def test_no_command_means_the_images_own(self) -> None:
        assert "Cmd" not in spec(command=None).create_body()

    def test_unlimited_swap(self) -> None:
        assert spec(memswap_limit=-1).create_body()["HostConfig"]["MemorySwap"] == -1

    def test_the_spec_is_frozen_and_its_body_a_fresh_copy(self) -> None:
        built = spec(volumes=["/a:/b"])
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.image = "other"  # type: ignore[misc]
        built.create_body()["HostConfig"]["Binds"].append("/x:/y")
        assert built.create_body()["HostConfig"]["Binds"] == ["/a:/b"]

    def test_the_preview(self) -> None:
        preview = spec(image="busybox", networks=["a", "b"]).preview()
        assert preview["image_pull_policy"] == "ALWAYS"
        assert preview["name"] is None
        assert preview["config"]["HostConfig"]["NetworkMode"] == "a"
        assert preview["connect_networks"] == ["b"]
        assert preview["timeout_seconds"] is None
        assert spec(timeout_seconds=2.5).preview()["timeout_seconds"] == 2.5

    def test_the_preview_masks_passwords_the_request_carries(self) -> None:
        url = "postgresql://u:PW@127.0.0.1/db"
        built = spec(
            env={"LAUNCHBAY_DATABASE_URL": url, "PLAIN": "x"}, base={"LAUNCHBAY_API_URL": "http://a:PW2@h"}
        )
        assert f"LAUNCHBAY_DATABASE_URL={url}" in built.create_body()["Env"]  # sent as asked for
        shown = built.preview()["config"]["Env"]
        assert shown == [
            "LAUNCHBAY_API_URL=http://a:***@h",
            "LAUNCHBAY_DATABASE_URL=postgresql://u:***@127.0.0.1/db",
            "PLAIN=x",
        ]
        assert "PW" not in repr(built.preview())


class TestResources:
    def test_as_docker_run_sends_them(self) -> None:
        body = spec(cpus=1.5, shm_size="64m", gpus=2, user="1000:1000").create_body()
        assert body["User"] == "1000:1000"
        host_config = body["HostConfig"]
        assert host_config["NanoCpus"] == 1_500_000_000
        assert host_config["ShmSize"] == 64 << 20
        assert host_config["DeviceRequests"] == [
            {"Driver": "", "Count": 2, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}
        ]

    def test_all_gpus_and_sizes_in_bytes(self) -> None:
        host_config = spec(gpus="all", shm_size=1_000_000, cpus=0.1).create_body()["HostConfig"]
        assert host_config["DeviceRequests"][0]["Count"] == -1
        assert host_config["ShmSize"] == 1_000_000
        assert host_config["NanoCpus"] == 100_000_000  # exact, not 100000000.00000001

    def test_none_unless_asked_for(self) -> None:
        body = spec().create_body()
        assert "User" not in body
        assert not {"NanoCpus", "ShmSize", "DeviceRequests"} & set(body["HostConfig"])

    def test_the_preview_shows_them_as_sent(self) -> None:
        built = spec(cpus=2, shm_size="1g", gpus="all", user="app")
        assert built.preview()["config"] == built.create_body()


class TestPulls:
    @pytest.mark.parametrize(
        ("image", "policy", "expected"),
        [
            ("busybox", None, ImagePullPolicy.ALWAYS),
            ("busybox:1.36", None, ImagePullPolicy.IF_NOT_PRESENT),
            ("busybox:latest", ImagePullPolicy.NEVER, ImagePullPolicy.NEVER),
        ],
    )
    def test_policy(self, image: str, policy: ImagePullPolicy | None, expected: ImagePullPolicy) -> None:
        assert spec(image=image, image_pull_policy=policy).pull_policy is expected


class TestNetworks:
    def test_first_network_at_creation_the_others_before_start(self) -> None:
        built = spec(networks=["first", "second", "third"])
        body = built.create_body()
        assert body["HostConfig"]["NetworkMode"] == "first"
        assert body["NetworkingConfig"] == {"EndpointsConfig": {"first": {}}}
        assert built.connect_networks == ("second", "third")

    def test_a_mode_with_networks_connects_them_all_after_creation(self) -> None:
        built = spec(network_mode="bridge", networks=["a"])
        assert built.network_mode == "bridge"
        assert built.endpoint_network is None and built.connect_networks == ()

    @pytest.mark.parametrize("url", ["http://localhost:4200/api", "http://LocalHost:4200/api"])
    def test_host_network_for_a_local_api_url(self, url: str) -> None:
        built = spec(api_url=url, base={"LAUNCHBAY_API_URL": url})
        assert built.network_mode == "host"
        assert env_of(built)["LAUNCHBAY_API_URL"] == url  # the host's localhost is the container's

    @pytest.mark.parametrize(
        ("url", "rewritten"),
        [
            ("http://127.0.0.1:4200/api", "http://host.docker.internal:4200/api"),
            ("http://LOCALHOST:4200/api", "http://host.docker.internal:4200/api"),
            ("http://LocalHost:4200", "http://host.docker.internal:4200"),
        ],
    )
    def test_local_api_url_rewritten_off_the_host_network(self, url: str, rewritten: str) -> None:
        built = spec(api_url=url, network_mode="bridge", base={"LAUNCHBAY_API_URL": url})
        assert env_of(built)["LAUNCHBAY_API_URL"] == rewritten

    def test_api_url_from_env_is_kept(self) -> None:
        built = spec(network_mode="bridge", env={"LAUNCHBAY_API_URL": "http://localhost:1/api"})
        assert env_of(built)["LAUNCHBAY_API_URL"] == "http://localhost:1/api"

    def test_extra_hosts_off_linux_and_for_remote_urls(self) -> None:
        assert spec(platform="darwin").extra_hosts == ()
        assert spec(api_url="https://api.example.com").extra_hosts == ()
        assert spec(engine_version=None).extra_hosts == (GATEWAY,)


class TestWarnings:
    def test_a_clean_configuration_has_none(self) -> None:
        assert spec().warnings == ()

    def test_host_mode_off_linux(self) -> None:
        (warning,) = spec(network_mode="host", platform="darwin").warnings
        assert "only works on Linux" in warning

    def test_unparsable_api_url_on_every_platform(self) -> None:
        for platform in ("linux", "darwin", "win32"):
            (warning,) = spec(env={"LAUNCHBAY_API_URL": "http://[::1"}, platform=platform).warnings
            assert "Could not parse the API URL" in warning

    def test_old_engine(self) -> None:
        built = spec(engine_version="19.03.15")
        assert built.extra_hosts == ()
        (warning,) = built.warnings
        assert "older than 20.10" in warning
