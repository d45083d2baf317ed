"""DockerContainer against the real Docker Engine (scripts/services/docker.sh).

Fields, settings and previews that need no engine are tested first; every
behaviour that involves the engine is checked with ``docker inspect`` or from
inside the container.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from launchbay import (
    DockerContainer,
    DockerContainerResult,
    DockerRegistry,
    ImagePullPolicy,
    InfrastructureNotAvailable,
    InfrastructureNotFound,
)
from launchbay._internal.exits import ExitReason
from launchbay._internal.stopping import STOP_REQUEST, StopRequest
from launchbay.exceptions import InfrastructureError
from launchbay.models import Deployment, Flow, FlowRun
from tests.docker_fixtures import (  # noqa: F401 - fixtures
    TEST_IMAGE,
    DockerProxy,
    PrivateEngine,
    _docker_session,
    container_by_label,
    docker_client,
    docker_proxy,
    launch_in_subprocess,
    private_engine,
    read_line_matching,
    test_labels,
    unique_name,
)
from tests.runs import run_while

PID_PATTERN = re.compile(r"^unix:///var/run/docker\.sock:[0-9a-f]{64}$")


def make(test_labels: dict[str, str], **fields: Any) -> DockerContainer:
    fields.setdefault("image", TEST_IMAGE)
    fields["labels"] = {**test_labels, **fields.get("labels", {})}
    return DockerContainer(**fields)


def container_id(result: DockerContainerResult) -> str:
    return result.identifier.rsplit(":", 1)[1]


# --- fields, validation, preview (no engine) ---------------------------------------------


class TestFields:
    def test_defaults(self) -> None:
        container = DockerContainer(command=["true"])
        assert container.type == "docker-container"
        assert container.image.startswith("launchbay/launchbay:")
        assert container.image_pull_policy is None
        assert container.image_registry is None
        assert container.networks == [] and container.volumes == []
        assert container.network_mode is None
        assert container.auto_remove is False and container.privileged is False
        assert container.stream_output is True
        assert container.mem_limit is None and container.memswap_limit is None
        assert DockerContainer.get_block_type_slug() == "docker-container"
        assert "run-infrastructure" in DockerContainer.get_block_capabilities()

    def test_logger(self) -> None:
        assert DockerContainer().logger.name == "launchbay.infrastructure.docker-container"

    def test_volumes_need_a_colon(self) -> None:
        with pytest.raises(ValidationError) as caught:
            DockerContainer(volumes=["/ok:/ok", "/just/a/path"])
        message = str(caught.value)
        assert "'/just/a/path'" in message
        assert "path:container_path" in message

    @pytest.mark.parametrize("field", ["mem_limit", "memswap_limit"])
    def test_bad_memory_sizes(self, field: str) -> None:
        with pytest.raises(ValidationError, match="Invalid memory size 'lots'"):
            DockerContainer(**{field: "lots"})

    def test_resource_defaults_and_values(self) -> None:
        container = DockerContainer()
        assert (container.cpus, container.shm_size, container.gpus, container.user) == (
            None,
            None,
            None,
            None,
        )
        container = DockerContainer(cpus=2, shm_size="64m", gpus="all", user="1000:1000")
        assert (container.cpus, container.shm_size, container.gpus, container.user) == (
            2.0,
            "64m",
            "all",
            "1000:1000",
        )
        assert DockerContainer(gpus="3").gpus == 3
        assert DockerContainer.model_validate_json(container.model_dump_json()) == container

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"cpus": 0}, "cpus must be a number of CPUs above 0"),
            ({"cpus": -1.5}, "cpus must be a number of CPUs above 0"),
            ({"cpus": "many"}, "valid number"),
            ({"shm_size": "lots"}, "Invalid shm size 'lots'"),
            ({"shm_size": 0}, "Invalid shm size 0: it must be above 0"),
            ({"gpus": 0}, "gpus must be a number of GPUs above 0, or 'all'"),
            ({"gpus": "some"}, "gpus must be a number of GPUs above 0, or 'all'"),
            ({"user": ""}, "user must be a user name or id"),
        ],
    )
    def test_bad_resources_are_refused_naming_the_field(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError) as caught:
            DockerContainer(**fields)
        (error,) = caught.value.errors()
        assert error["loc"] == (next(iter(fields)),)
        assert message in str(caught.value)

    def test_pull_policy_from_string(self) -> None:
        assert DockerContainer(image_pull_policy="NEVER").image_pull_policy is ImagePullPolicy.NEVER

    def test_empty_command_is_refused(self) -> None:
        with pytest.raises(ValueError, match="cannot be run with empty command"):
            DockerContainer(command=[]).run()

    def test_json_round_trip_with_a_registry(self) -> None:
        container = DockerContainer(
            image="127.0.0.1:5000/app:v1",
            command=["echo", "hi"],
            image_pull_policy="ALWAYS",
            image_registry=DockerRegistry(username="u", password="s3cret!", registry_url="127.0.0.1:5000"),
            networks=["a", "b"],
            volumes=["/a:/b:ro"],
            mem_limit="1g",
            memswap_limit=-1,
        )
        revealed = container.model_dump_json(context={"reveal_secrets": True})
        again = DockerContainer.model_validate_json(revealed)
        assert again == container
        assert again.image_registry.password.get_secret_value() == "s3cret!"  # type: ignore[union-attr]
        assert "s3cret!" not in container.model_dump_json()
        assert "s3cret!" not in repr(container)


class TestPreview:
    def preview(self, **fields: Any) -> dict[str, Any]:
        return json.loads(DockerContainer(command=["echo", "hi"], **fields).preview())

    def test_creation_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LAUNCHBAY_LOGGING_LEVEL", "DEBUG")
        preview = self.preview(
            image="busybox:1.36",
            name="my_flow*run",
            env={"A": "1", "GONE": None},
            labels={"example.com/team": "x"},
            volumes=["/host:/container"],
            mem_limit="512m",
            memswap_limit="1g",
            privileged=True,
            auto_remove=True,
        )
        assert preview["name"] == "my_flow-run"
        assert preview["image_pull_policy"] == "IF_NOT_PRESENT"
        config = preview["config"]
        assert config["Image"] == "busybox:1.36"
        assert config["Cmd"] == ["echo", "hi"]
        # The base environment (settings the user set), then env; None dropped.
        assert "LAUNCHBAY_LOGGING_LEVEL=DEBUG" in config["Env"]
        assert config["Env"][-1] == "A=1"
        assert not any(e.startswith("GONE") for e in config["Env"])
        assert config["Labels"]["com.example.team"] == "x"
        assert config["Labels"]["io.launchbay.managed"] == "true"
        host = config["HostConfig"]
        assert host["Binds"] == ["/host:/container"]
        assert host["Memory"] == 512 << 20
        assert host["MemorySwap"] == 1 << 30
        assert host["Privileged"] is True and host["AutoRemove"] is True
        assert host["ExtraHosts"] == ["host.docker.internal:host-gateway"]
        assert "NetworkMode" not in host

    def test_latest_pulls_always(self) -> None:
        assert self.preview(image="busybox")["image_pull_policy"] == "ALWAYS"
        assert self.preview(image="busybox:latest", image_pull_policy="NEVER")["image_pull_policy"] == "NEVER"

    def test_networks(self) -> None:
        preview = self.preview(networks=["first", "second", "third"])
        host = preview["config"]["HostConfig"]
        assert host["NetworkMode"] == "first"
        assert preview["config"]["NetworkingConfig"] == {"EndpointsConfig": {"first": {}}}
        assert preview["connect_networks"] == ["second", "third"]

    def test_local_api_url_from_settings_means_host_network(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LAUNCHBAY_API_URL", "http://localhost:4200/api")
        preview = self.preview()
        assert preview["config"]["HostConfig"]["NetworkMode"] == "host"
        assert "LAUNCHBAY_API_URL=http://localhost:4200/api" in preview["config"]["Env"]

    def test_local_api_url_is_rewritten_off_the_host_network(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LAUNCHBAY_API_URL", "http://127.0.0.1:4200/api")
        preview = self.preview(network_mode="bridge")
        assert "LAUNCHBAY_API_URL=http://host.docker.internal:4200/api" in preview["config"]["Env"]

    def test_api_url_in_env_is_kept(self) -> None:
        preview = self.preview(network_mode="bridge", env={"LAUNCHBAY_API_URL": "http://localhost:1/api"})
        assert "LAUNCHBAY_API_URL=http://localhost:1/api" in preview["config"]["Env"]

    def test_remote_api_url_means_no_extra_host(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LAUNCHBAY_API_URL", "https://api.example.com")
        host = self.preview()["config"]["HostConfig"]
        assert "ExtraHosts" not in host and "NetworkMode" not in host

    def test_unparsable_api_url_warns(self, caplog: pytest.LogCaptureFixture) -> None:
        with pytest.warns(UserWarning, match="Could not parse the API URL"):
            preview = self.preview(env={"LAUNCHBAY_API_URL": "http://[::1"})
        assert "NetworkMode" not in preview["config"]["HostConfig"]
        assert "Could not parse the API URL" in caplog.text

    @pytest.mark.parametrize("platform", ["darwin", "win32"])
    def test_unparsable_api_url_warns_off_linux_too(
        self, platform: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setattr("sys.platform", platform)
        with pytest.warns(UserWarning, match="Could not parse the API URL"):
            self.preview(env={"LAUNCHBAY_API_URL": "http://[::1"})
        assert "Could not parse the API URL" in caplog.text

    def test_host_network_off_linux_warns(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setattr("sys.platform", "darwin")
        with pytest.warns(UserWarning, match="host networking only works on Linux"):
            preview = self.preview(network_mode="host")
        assert preview["config"]["HostConfig"]["NetworkMode"] == "host"
        assert "host networking only works on Linux" in caplog.text

    def test_an_engine_older_than_20_10_warns(self, caplog: pytest.LogCaptureFixture) -> None:
        # What a run builds once the engine said its version (GET /version).
        with pytest.warns(UserWarning, match="older than 20.10"):
            spec = DockerContainer(command=["true"])._spec("19.03.15")
        assert spec.extra_hosts == ()
        assert "older than 20.10" in caplog.text

    def test_a_clean_configuration_does_not_warn(self) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.preview()

    def test_no_secret_in_preview(self) -> None:
        registry = DockerRegistry(username="u", password="hunter2-secret", registry_url="r.example")
        assert "hunter2-secret" not in DockerContainer(command=["x"], image_registry=registry).preview()

    def test_the_database_url_stays_out_unless_asked_for(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", "postgresql://u:PW@127.0.0.1/db")
        monkeypatch.setenv("LAUNCHBAY_LOGGING_LEVEL", "DEBUG")
        env = self.preview()["config"]["Env"]
        assert "LAUNCHBAY_LOGGING_LEVEL=DEBUG" in env
        assert not any(entry.startswith("LAUNCHBAY_DATABASE_URL=") for entry in env)
        # Asked for in env: it goes in, and the preview masks its password.
        shown = DockerContainer(
            command=["x"], env={"LAUNCHBAY_DATABASE_URL": "postgresql://u:PW@127.0.0.1/db"}
        )
        assert (
            "LAUNCHBAY_DATABASE_URL=postgresql://u:***@127.0.0.1/db"
            in json.loads(shown.preview())["config"]["Env"]
        )
        assert "PW" not in shown.preview()

    def test_resources_and_timeout(self) -> None:
        preview = self.preview(cpus=0.5, shm_size="64m", gpus=1, user="app", timeout_seconds=30)
        host = preview["config"]["HostConfig"]
        assert (host["NanoCpus"], host["ShmSize"], host["DeviceRequests"][0]["Count"]) == (
            500_000_000,
            64 << 20,
            1,
        )
        assert preview["config"]["User"] == "app"
        assert preview["timeout_seconds"] == 30

    def test_flow_run_labels(self) -> None:
        flow_run = FlowRun(name="brave-otter")
        prepared = DockerContainer().prepare_for_flow_run(
            flow_run, Deployment(name="nightly"), Flow(name="etl")
        )
        labels = json.loads(prepared.preview())["config"]["Labels"]
        assert labels["io.launchbay.flow-run-id"] == str(flow_run.id)
        assert labels["io.launchbay.flow-run-name"] == "brave-otter"
        assert labels["io.launchbay.deployment-name"] == "nightly"
        assert labels["io.launchbay.flow-name"] == "etl"
        preview = json.loads(prepared.preview())
        assert preview["name"] == "brave-otter"
        assert preview["config"]["Cmd"] == ["python", "-m", "launchbay.engine"]


# --- against the engine ----------------------------------------------------------------

pytestmark_docker = pytest.mark.docker


@pytest.mark.docker
class TestRun:
    @pytest.mark.parametrize("code", [0, 4, 255])
    def test_exit_codes(self, docker_client: Any, test_labels: dict[str, str], code: int) -> None:
        result = make(test_labels, command=["sh", "-c", f"exit {code}"], stream_output=False).run()
        assert isinstance(result, DockerContainerResult)
        assert result.status_code == code
        assert bool(result) is (code == 0)
        assert result.reason is None
        assert result.exit_reason is ExitReason.EXITED
        assert PID_PATTERN.match(result.identifier)
        assert docker_client.containers.get(container_id(result)).attrs["State"]["ExitCode"] == code

    def test_output_is_streamed_completely(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        script = "printf first; echo ' line'; echo to-stderr >&2; i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; printf last"
        result = make(test_labels, command=["sh", "-c", script]).run()
        out, err = capfd.readouterr()
        assert result.status_code == 0
        expected = "first line\n" + "".join(f"line {i}\n" for i in range(200)) + "last"
        assert out == expected
        assert "to-stderr\n" in err

    def test_first_and_last_bytes_of_a_short_life(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        for attempt in range(5):
            result = make(test_labels, command=["printf", f"only-{attempt}"]).run()
            assert result.status_code == 0
            assert capfd.readouterr().out == f"only-{attempt}"

    def test_large_output(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        size = 4_000_000
        result = make(
            test_labels, command=["sh", "-c", f"head -c {size} /dev/zero | tr '\\0' x; printf END"]
        ).run()
        out = capfd.readouterr().out
        assert result.status_code == 0
        assert len(out) == size + 3 and out.endswith("xEND") and set(out[:-3]) == {"x"}

    def test_no_output_without_stream_output(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        result = make(test_labels, command=["sh", "-c", "echo hidden; exit 3"], stream_output=False).run()
        assert result.status_code == 3
        assert "hidden" not in capfd.readouterr().out

    def test_status_is_logged(
        self, docker_client: Any, test_labels: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, "launchbay")
        name = unique_name()
        make(test_labels, name=name, command=["sh", "-c", "exit 5"], stream_output=False).run()
        assert f"Docker container '{name}' has status 'created'" in caplog.text
        assert f"Docker container '{name}' has status 'running'" in caplog.text
        assert f"Docker container '{name}' has status 'exited'" in caplog.text
        assert "exited with status code: 5" in caplog.text

    def test_settings_as_docker_sees_them(
        self, docker_client: Any, test_labels: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LAUNCHBAY_LOGGING_LEVEL", "DEBUG")
        monkeypatch.setenv("INHERITED_BY_PROCESSES_ONLY", "1")
        name = unique_name("settings")
        result = make(
            test_labels,
            name=name,
            command=["sh", "-c", "echo written > /data/out.txt; cat /etc/hosts > /data/hosts"],
            env={"MY_VAR": "value with spaces", "DROPPED": None},
            labels={"example.com/team": "infra", "plain": "yes"},
            volumes=[f"{tmp_path}:/data"],
            mem_limit="64m",
            memswap_limit="128m",
            stream_output=False,
        ).run()
        assert result.status_code == 0
        attrs = docker_client.containers.get(container_id(result)).attrs
        assert attrs["Name"] == f"/{name}"
        labels = attrs["Config"]["Labels"]
        assert labels["com.example.team"] == "infra"
        assert labels["plain"] == "yes"
        assert labels["io.launchbay.managed"] == "true"
        env = attrs["Config"]["Env"]
        assert "MY_VAR=value with spaces" in env
        assert "LAUNCHBAY_LOGGING_LEVEL=DEBUG" in env
        assert not any(e.startswith(("DROPPED=", "INHERITED_BY_PROCESSES_ONLY=")) for e in env)
        host = attrs["HostConfig"]
        assert host["Binds"] == [f"{tmp_path}:/data"]
        assert host["Memory"] == 64 << 20
        assert host["MemorySwap"] == 128 << 20
        assert host["Privileged"] is False
        assert host["ExtraHosts"] == ["host.docker.internal:host-gateway"]
        assert (tmp_path / "out.txt").read_text() == "written\n"
        # The engine (20.10.24+dfsg1 here) resolved host-gateway inside the container.
        assert re.search(r"^\S+\s+host\.docker\.internal$", (tmp_path / "hosts").read_text(), re.M)

    def test_privileged(
        self, docker_client: Any, test_labels: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Some hosts (like this CI VM, whose capability bounding set lacks
        CAP_SYS_RESOURCE) cannot start privileged containers at all; the engine
        must get the setting either way."""
        from launchbay._internal.docker import runner

        async def keep(client: Any, container_id: str) -> None:
            return None

        monkeypatch.setattr(runner, "_remove_quietly", keep)  # keep a container that cannot start
        name = unique_name("privileged")
        try:
            result = make(
                test_labels, name=name, privileged=True, command=["sh", "-c", "exit 0"], stream_output=False
            ).run()
            assert result.status_code == 0
        except InfrastructureError as exc:
            assert "apply caps" in str(exc)
        assert docker_client.containers.get(name).attrs["HostConfig"]["Privileged"] is True

    def test_name_conflicts_get_a_number(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        name = unique_name("twice")
        names = []
        for _ in range(3):
            result = make(test_labels, name=name, command=["true"], stream_output=False).run()
            names.append(docker_client.containers.get(container_id(result)).name)
        assert names == [name, f"{name}-1", f"{name}-2"]

    def test_names_are_slugified(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        raw = "_" + unique_name("slug") + "*x"
        result = make(test_labels, name=raw, command=["true"], stream_output=False).run()
        assert docker_client.containers.get(container_id(result)).name == raw[1:-2] + "-x"

    def test_networks_first_at_creation_then_the_others(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        created = [
            docker_client.networks.create(unique_name("net"), labels={"io.launchbay.test-run": "1"})
            for _ in range(2)
        ]
        try:
            result = make(
                test_labels,
                networks=[n.name for n in created],
                command=["sh", "-c", "ls /sys/class/net | sort | tr '\\n' ' '"],
            ).run()
            assert result.status_code == 0
            # Both networks were connected before the command started.
            assert capfd.readouterr().out.split() == ["eth0", "eth1", "lo"]
            attrs = docker_client.containers.get(container_id(result)).attrs
            assert set(attrs["NetworkSettings"]["Networks"]) == {n.name for n in created}
            assert attrs["HostConfig"]["NetworkMode"] == created[0].name
        finally:
            docker_client.containers.get(container_id(result)).remove(force=True)
            for network in created:
                network.remove()

    def test_network_mode_none(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        result = make(test_labels, network_mode="none", command=["ls", "/sys/class/net"]).run()
        assert capfd.readouterr().out.split() == ["lo"]
        assert docker_client.containers.get(container_id(result)).attrs["HostConfig"]["NetworkMode"] == "none"

    def test_host_network_when_the_api_url_is_local(
        self, docker_client: Any, test_labels: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LAUNCHBAY_API_URL", "http://127.0.0.1:4200/api")
        result = make(test_labels, command=["true"], stream_output=False).run()
        attrs = docker_client.containers.get(container_id(result)).attrs
        assert attrs["HostConfig"]["NetworkMode"] == "host"
        assert "LAUNCHBAY_API_URL=http://127.0.0.1:4200/api" in attrs["Config"]["Env"]

    def test_api_url_rewritten_on_a_bridge(
        self,
        docker_client: Any,
        test_labels: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("LAUNCHBAY_API_URL", "http://localhost:4200/api")
        result = make(
            test_labels, network_mode="bridge", command=["sh", "-c", "echo $LAUNCHBAY_API_URL"]
        ).run()
        assert capfd.readouterr().out == "http://host.docker.internal:4200/api\n"
        assert result.status_code == 0

    def test_auto_remove(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        import docker

        result = make(test_labels, auto_remove=True, command=["sh", "-c", "exit 3"]).run()
        assert result.status_code == 3
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(container_id(result))

    def test_oom_kill_is_reported(
        self, docker_client: Any, test_labels: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        # The shell holds 64 MiB in a variable under an 8 MiB limit (swap
        # included), so the kernel kills it. It waits 0.2 s first: on cgroup v1
        # the engine only hears of OOM kills once containerd watches the new
        # cgroup, just after start (an OOM in the first milliseconds goes
        # unreported by Docker itself). Docker's State.OOMKilled is not checked:
        # it misses about 1 in 40 kills that its own `oom` event reports.
        result = make(
            test_labels,
            command=["sh", "-c", "sleep 0.2; x=$(head -c 64m /dev/zero | tr '\\0' a); echo survived"],
            mem_limit="8m",
            memswap_limit="8m",
        ).run()
        assert result.reason == "OOMKilled"
        assert result.status_code == 137
        assert result.exit_reason is ExitReason.OOM_KILLED
        assert "OOMKilled" in caplog.text

    def test_signal_death_is_named(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        result = make(
            test_labels, command=["sh", "-c", "sleep 30 & kill -TERM $!; wait $!"], stream_output=False
        ).run()
        assert (result.status_code, result.reason) == (143, "SIGTERM")
        assert result.exit_reason is ExitReason.SIGNALED

    def test_command_not_found(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        with pytest.raises(InfrastructureError, match="no-such-command") as caught:
            make(test_labels, command=["no-such-command"]).run()
        assert caught.value.exit_code == 127
        # The container that could not start is not left behind.
        assert (
            docker_client.containers.list(
                all=True, filters={"label": f"io.launchbay.test-run={test_labels['launchbay.io/test-run']}"}
            )
            == []
        )

    def test_resources_as_docker_sees_them(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        result = make(
            test_labels,
            command=["sh", "-c", "id -u; id -g; df -k /dev/shm | tail -n 1"],
            cpus=0.5,
            mem_limit="64m",
            shm_size="16m",
            user="1234:5678",
        ).run()
        assert result.status_code == 0
        host = docker_client.containers.get(container_id(result)).attrs["HostConfig"]
        assert (host["NanoCpus"], host["Memory"], host["ShmSize"]) == (500_000_000, 64 << 20, 16 << 20)
        uid, gid, shm = capfd.readouterr().out.splitlines()
        assert (uid, gid) == ("1234", "5678")
        assert shm.split()[1] == str(16 << 10)  # 1K-blocks: /dev/shm is 16 MiB inside

    def test_gpus_on_an_engine_without_them_is_a_clear_error(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        # No GPUs here: the engine refuses the device request that `docker run --gpus` sends too.
        with pytest.raises(
            InfrastructureError, match=r"gpus=1 needs GPUs .* NVIDIA Container Toolkit"
        ) as caught:
            make(test_labels, command=["true"], gpus=1).run()
        assert "could not select device driver" in str(caught.value)
        assert caught.value.exit_code == 125
        assert container_by_label(docker_client, docker_client.launchbay_test_run) == []  # not left behind

    def test_a_run_past_its_timeout_is_stopped(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        container = make(test_labels, command=["sleep", "60"], timeout_seconds=1, stream_output=False)

        async def main() -> DockerContainerResult:
            STOP_REQUEST.set(StopRequest(grace_seconds=1))  # sleep as PID 1 ignores SIGTERM
            return await container.arun()  # type: ignore[return-value]

        result = anyio.run(main)
        assert (result.status_code, result.reason, result.exit_reason) == (
            137,
            "timed out after 1 s",
            ExitReason.TIMED_OUT,
        )
        assert not result
        assert docker_client.containers.get(container_id(result)).status == "exited"

    def test_a_timed_out_run_keeps_its_output(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        script = 'trap "echo stopping; exit 0" TERM; echo started; while :; do sleep 0.1; done'
        result = make(test_labels, command=["sh", "-c", script], timeout_seconds=1).run()
        assert (result.status_code, result.exit_reason) == (0, ExitReason.TIMED_OUT)
        assert capfd.readouterr().out == "started\nstopping\n"

    def test_cancelling_sends_the_stop_requests_signal(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        # What the CLI does on Ctrl+C: the same signal first (SIGINT as SIGINT), the grace, a kill.
        script = (
            'trap "echo got INT; exit 7" INT; trap "exit 8" TERM; echo started; while :; do sleep 0.1; done'
        )
        container = make(test_labels, command=["sh", "-c", script])

        async def main() -> str:
            STOP_REQUEST.set(StopRequest(signum=signal.SIGINT, grace_seconds=60))
            async with anyio.create_task_group() as tg:
                pid = await tg.start(container.run)
                await anyio.sleep(1)
                tg.cancel_scope.cancel()
            return pid

        pid = anyio.run(main)
        state = docker_client.containers.get(pid.rsplit(":", 1)[1]).attrs["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 7)
        assert capfd.readouterr().out == "started\ngot INT\n"

    def test_cancelling_kills_after_the_grace(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        container = make(test_labels, command=["sleep", "600"], stream_output=False)  # ignores SIGTERM

        async def main() -> str:
            STOP_REQUEST.set(StopRequest(grace_seconds=1))
            async with anyio.create_task_group() as tg:
                pid = await tg.start(container.run)
                tg.cancel_scope.cancel()
            return pid

        pid = anyio.run(main)
        state = docker_client.containers.get(pid.rsplit(":", 1)[1]).attrs["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 137)

    def test_a_second_signal_during_the_grace_kills_at_once(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        container = make(test_labels, command=["sleep", "600"], stream_output=False)
        request = StopRequest(grace_seconds=900)  # were the escalation ignored, the test would time out

        async def main() -> str:
            STOP_REQUEST.set(request)
            async with anyio.create_task_group() as tg:
                pid = await tg.start(container.run)
                tg.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(0.5)
                    request.escalate()
            return pid

        pid = anyio.run(main)
        state = docker_client.containers.get(pid.rsplit(":", 1)[1]).attrs["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 137)

    def test_the_database_url_does_not_go_into_the_container(
        self, docker_client: Any, test_labels: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", "postgresql://u:PW@127.0.0.1/db")
        result = make(test_labels, command=["true"], stream_output=False).run()
        env = docker_client.containers.get(container_id(result)).attrs["Config"]["Env"]
        assert not any("PW" in entry for entry in env)
        asked = make(
            test_labels,
            command=["true"],
            stream_output=False,
            env={"LAUNCHBAY_DATABASE_URL": "postgresql://u:PW@127.0.0.1/db"},
        ).run()
        env = docker_client.containers.get(container_id(asked)).attrs["Config"]["Env"]
        assert "LAUNCHBAY_DATABASE_URL=postgresql://u:PW@127.0.0.1/db" in env

    def test_task_status_reports_the_pid_before_the_end(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        container = make(test_labels, command=["sh", "-c", "sleep 1; exit 2"], stream_output=False)
        seen: dict[str, Any] = {}

        async def main() -> None:
            async with anyio.create_task_group() as tg:

                async def run(*, task_status: Any) -> None:
                    seen["result"] = await container.run(task_status=task_status)

                seen["pid"] = await tg.start(run)
                seen["state"] = docker_client.containers.get(seen["pid"].rsplit(":", 1)[1]).status

        anyio.run(main)
        assert PID_PATTERN.match(seen["pid"])
        assert seen["state"] == "running"
        assert seen["result"].identifier == seen["pid"]
        assert seen["result"].status_code == 2

    def test_cancelling_the_run_stops_the_container(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        script = 'trap "echo stopping; exit 0" TERM; echo started; while :; do sleep 0.1; done'
        container = make(test_labels, command=["sh", "-c", script])

        async def main() -> str:
            async with anyio.create_task_group() as tg:
                pid = await tg.start(container.run)
                await anyio.sleep(1)
                tg.cancel_scope.cancel()
            return pid

        pid = anyio.run(main)
        state = docker_client.containers.get(pid.rsplit(":", 1)[1]).attrs["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 0)
        # What the container wrote while stopping arrives too, and nothing twice.
        assert capfd.readouterr().out == "started\nstopping\n"

    def test_a_container_removed_while_watched_ends_the_run(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        container = make(test_labels, command=["sh", "-c", "echo up; while :; do sleep 0.1; done"])
        outcome: dict[str, Any] = {}

        async def main() -> None:
            async with anyio.create_task_group() as tg:

                async def run(*, task_status: Any) -> None:
                    outcome["result"] = await container.run(task_status=task_status)

                pid = await tg.start(run)
                await anyio.to_thread.run_sync(
                    lambda: docker_client.containers.get(pid.rsplit(":", 1)[1]).remove(force=True)
                )

        anyio.run(main)
        # The engine reports the kill before the removal; had the exit been
        # missed, the result would be -1 with a warning. Never a crash.
        assert (outcome["result"].status_code, outcome["result"].reason) in (
            (137, "SIGKILL"),
            (-1, "container removed"),
        )

    def test_flow_run_labels_on_the_container(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        flow_run = FlowRun(name="calm-heron")
        container = make(
            test_labels, command=["true"], stream_output=False, name=unique_name()
        ).prepare_for_flow_run(flow_run)
        result = container.run()
        attrs = docker_client.containers.get(container_id(result)).attrs
        assert attrs["Config"]["Labels"]["io.launchbay.flow-run-id"] == str(flow_run.id)
        assert f"LAUNCHBAY__FLOW_RUN_ID={flow_run.id.hex}" in attrs["Config"]["Env"]


@pytest.mark.docker
class TestEngineErrors:
    def test_no_engine(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
        with pytest.raises(InfrastructureError) as caught:
            DockerContainer(image=TEST_IMAGE, command=["true"]).run()
        message = str(caught.value)
        assert message.startswith("Could not connect to Docker at unix://")
        assert "DOCKER_HOST" in message

    def test_missing_image_under_never(
        self, docker_client: Any, docker_proxy: DockerProxy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DOCKER_HOST", docker_proxy.url)
        image = "launchbay-test/absent:1"
        with pytest.raises(InfrastructureError) as caught:
            DockerContainer(image=image, command=["true"], image_pull_policy="NEVER").run()
        assert f"Image {image!r} is not present" in str(caught.value)
        assert "NEVER" in str(caught.value)
        assert not any("/images/create" in r for r in docker_proxy.requests)

    def test_unpullable_image_names_image_and_cause(self, docker_client: Any) -> None:
        image = "127.0.0.1:9/launchbay-test/absent:1"
        with pytest.raises(InfrastructureError) as caught:
            DockerContainer(image=image, command=["true"]).run()
        message = str(caught.value)
        assert message.startswith(f"Could not pull image {image!r}: ")
        assert "connection refused" in message


@pytest.mark.docker
class TestKill:
    def test_kill_with_grace_from_another_process(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        script = 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done'
        process, pid = launch_in_subprocess(make(test_labels, command=["sh", "-c", script]))
        try:
            read_line_matching(process.stdout, r"^ready$")
            DockerContainer().kill(pid, grace_seconds=20)
            match = read_line_matching(process.stderr, r"^RESULT (.*)$")
            result = json.loads(match.group(1))
            assert result["status_code"] == 42
            assert "got TERM" in process.stdout.read()
            assert process.wait(30) == 0
        finally:
            process.kill()

    def test_grace_ends_with_sigkill(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        # A shell as PID 1 without a trap ignores SIGTERM: the engine kills it after the grace.
        process, pid = launch_in_subprocess(
            make(test_labels, command=["sh", "-c", "echo ready; while :; do sleep 0.1; done"])
        )
        try:
            read_line_matching(process.stdout, r"^ready$")
            DockerContainer().kill(pid, grace_seconds=1)
            result = json.loads(read_line_matching(process.stderr, r"^RESULT (.*)$").group(1))
            assert (result["status_code"], result["reason"]) == (137, "SIGKILL")
        finally:
            process.kill()

    def test_a_pid_from_another_engine_is_not_available(self) -> None:
        with pytest.raises(InfrastructureNotAvailable, match="tcp://10.11.12.13:2376"):
            DockerContainer().kill("tcp://10.11.12.13:2376:" + "a" * 64)

    def test_a_removed_container_is_not_found(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        result = make(test_labels, command=["true"], stream_output=False).run()
        docker_client.containers.get(container_id(result)).remove()
        with pytest.raises(InfrastructureNotFound):
            DockerContainer().kill(result.identifier)

    @pytest.mark.parametrize("pid", ["not-a-pid", "bad-base-url:id"])
    def test_a_pid_whose_base_url_is_not_a_url_is_not_available(self, pid: str) -> None:
        # SPEC 8: not a ValueError, a pid this kind cannot reach.
        with pytest.raises(InfrastructureNotAvailable, match="BASE_URL:CONTAINER_ID"):
            DockerContainer().kill(pid)
        with pytest.raises(InfrastructureNotAvailable, match="BASE_URL:CONTAINER_ID"):
            DockerContainer().attach(pid)


@pytest.mark.docker
class TestAttach:
    def test_attach_after_the_launcher_was_killed(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        script = "echo before; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after; exit 7"
        process, pid = launch_in_subprocess(make(test_labels, command=["sh", "-c", script]))
        read_line_matching(process.stdout, r"^before$")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        cid = pid.rsplit(":", 1)[1]
        assert docker_client.containers.get(cid).status == "running"
        outcome: dict[str, Any] = {}

        async def main() -> None:
            async with anyio.create_task_group() as tg:

                async def attach(*, task_status: Any) -> None:
                    outcome["result"] = await DockerContainer().attach(pid, task_status=task_status)

                outcome["pid"] = await tg.start(attach)
                docker_client.containers.get(cid).exec_run(["touch", "/tmp/go"])

        anyio.run(main)
        assert outcome["pid"] == pid
        assert outcome["result"].status_code == 7
        assert capfd.readouterr().out == "before\nafter\n"

    def test_attach_to_a_finished_container(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        result = make(
            test_labels, command=["sh", "-c", "echo out; echo err >&2; exit 9"], stream_output=False
        ).run()
        attached = DockerContainer().attach(result.identifier)
        out, err = capfd.readouterr()
        assert attached.status_code == 9
        assert out == "out\n" and err.endswith("err\n")

    def test_attach_to_a_restarted_container_ignores_its_earlier_exit(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        script = "if [ -e /tmp/second ]; then while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 5; fi; touch /tmp/second; exit 3"
        first = make(test_labels, command=["sh", "-c", script], stream_output=False).run()
        assert first.status_code == 3
        docker_client.containers.get(container_id(first)).start()  # a second life, waiting
        outcome: dict[str, Any] = {}

        async def main() -> None:
            async with anyio.create_task_group() as tg:

                async def attach(*, task_status: Any) -> None:
                    outcome["result"] = await DockerContainer(stream_output=False).attach(
                        first.identifier, task_status=task_status
                    )

                await tg.start(attach)
                await anyio.sleep(0.5)
                outcome["still_waiting"] = "result" not in outcome
                await anyio.to_thread.run_sync(
                    lambda: docker_client.containers.get(container_id(first)).exec_run(["touch", "/tmp/go"])
                )

        anyio.run(main)
        assert outcome["still_waiting"]
        assert outcome["result"].status_code == 5

    def test_attach_reports_oom(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        result = make(
            test_labels,
            command=["sh", "-c", "sleep 0.2; x=$(head -c 64m /dev/zero | tr '\\0' a)"],
            mem_limit="8m",
            memswap_limit="8m",
            stream_output=False,
        ).run()
        assert DockerContainer(stream_output=False).attach(result.identifier).reason == "OOMKilled"

    def test_attach_errors(self, docker_client: Any) -> None:
        with pytest.raises(InfrastructureNotFound):
            DockerContainer().attach("unix:///var/run/docker.sock:" + "0" * 64)
        with pytest.raises(InfrastructureNotAvailable):
            DockerContainer().attach("tcp://10.11.12.13:2376:" + "a" * 64)


@pytest.mark.docker
class TestResilience:
    def test_the_wait_survives_dropped_connections(
        self,
        docker_client: Any,
        docker_proxy: DockerProxy,
        test_labels: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Every connection to the engine is cut and new ones refused for a
        while (what a client sees while the daemon restarts); the run still
        reports the exit code and every line of output, once."""
        monkeypatch.setenv("DOCKER_HOST", docker_proxy.url)
        flag = f"/tmp/{uuid.uuid4().hex}"
        script = f"echo one; while [ ! -e {flag} ]; do sleep 0.05; done; echo two; echo err >&2; printf three; exit 3"
        container = make(test_labels, command=["sh", "-c", script])

        async def cut_while_it_finishes(pid: str) -> None:
            await anyio.sleep(0.5)
            docker_proxy.refuse(True)
            docker_proxy.cut_connections()
            # The command goes on (and finishes) while launchbay cannot reach the engine.
            docker_client.containers.get(pid.rsplit(":", 1)[1]).exec_run(["touch", flag])
            await anyio.sleep(2)
            docker_proxy.refuse(False)

        _, result, _ = run_while(container, cut_while_it_finishes)
        out, err = capfd.readouterr()
        assert result.status_code == 3
        assert out == "one\ntwo\nthree"
        assert "err\n" in err
        assert "Lost the events stream" in caplog.text
        assert "Reconnected to Docker" in caplog.text

    @pytest.mark.slow
    def test_the_wait_survives_a_daemon_restart(
        self,
        private_engine: PrivateEngine,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A real dockerd restart (live-restore keeps the container running):
        the run reconnects, re-checks its container, and still reports every
        byte of output and the exit code."""
        monkeypatch.setenv("DOCKER_HOST", private_engine.url)
        flag = f"/tmp/{uuid.uuid4().hex}"
        script = f"echo one; while [ ! -e {flag} ]; do sleep 0.05; done; echo two; printf three; exit 3"
        container = DockerContainer(image=TEST_IMAGE, network_mode="none", command=["sh", "-c", script])

        async def restart_while_it_runs(pid: str) -> None:
            await anyio.sleep(0.5)
            await anyio.to_thread.run_sync(private_engine.restart)
            client = private_engine.client()
            client.containers.get(pid.rsplit(":", 1)[1]).exec_run(["touch", flag])
            client.close()

        _, result, _ = run_while(container, restart_while_it_runs)
        assert result.status_code == 3
        assert capfd.readouterr().out == "one\ntwo\nthree"
        assert "Reconnected to Docker" in caplog.text

    def test_many_containers_from_one_process_without_a_thread_each(
        self, docker_client: Any, test_labels: dict[str, str], capfd: pytest.CaptureFixture[str]
    ) -> None:
        count = 20
        flag = f"/tmp/{uuid.uuid4().hex}"
        threads_while_running: dict[str, int] = {}
        results: dict[int, Any] = {}

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                pids = []
                for index in range(count):

                    async def run(index: int = index, *, task_status: Any) -> None:
                        container = make(
                            test_labels,
                            command=[
                                "sh",
                                "-c",
                                f"echo start-{index}; while [ ! -e {flag} ]; do sleep 0.1; done; echo end-{index}; exit {index}",
                            ],
                        )
                        results[index] = await container.run(task_status=task_status)

                    pids.append(await tg.start(run))
                await anyio.sleep(1)
                # All are running and streaming: no thread is dedicated to one of them.
                names = [t.name for t in threading.enumerate()]
                threads_while_running["events"] = sum(n.startswith("launchbay-docker-events") for n in names)
                threads_while_running["other"] = sum(
                    not n.startswith(("launchbay-docker-events", "AnyIO worker thread", "MainThread"))
                    for n in names
                )
                for pid in pids:
                    docker_client.containers.get(pid.rsplit(":", 1)[1]).exec_run(["touch", flag])

        anyio.run(main)
        assert threads_while_running["events"] == 1
        assert threads_while_running["other"] < 5  # pytest's own, timers; not one per container
        assert {i: r.status_code for i, r in results.items()} == {i: i for i in range(count)}
        out = capfd.readouterr().out
        for index in range(count):
            assert f"start-{index}\n" in out and f"end-{index}\n" in out

    def test_a_run_makes_few_api_requests(
        self,
        docker_client: Any,
        docker_proxy: DockerProxy,
        test_labels: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The docker CLI's `docker run --rm` makes 5 requests; so does a first run."""
        monkeypatch.setenv("DOCKER_HOST", docker_proxy.url)
        result = make(test_labels, command=["true"]).run()
        assert result.status_code == 0
        first = list(docker_proxy.requests)
        assert len(first) <= 5, first
        docker_proxy.requests.clear()
        make(test_labels, command=["true"]).run()
        assert len(docker_proxy.requests) <= 3, docker_proxy.requests  # the engine's versions are known
        docker_proxy.requests.clear()
        make(test_labels, command=["true"], stream_output=False).run()
        assert len(docker_proxy.requests) <= 2, docker_proxy.requests  # create and start: no attach

    def test_a_local_image_is_not_pulled(
        self,
        docker_client: Any,
        docker_proxy: DockerProxy,
        test_labels: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("DOCKER_HOST", docker_proxy.url)
        assert make(test_labels, command=["true"], stream_output=False).run().status_code == 0
        assert not any("/images/" in r for r in docker_proxy.requests), docker_proxy.requests
