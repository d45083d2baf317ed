"""The Docker flags of the ``launchbay`` command, run as a user would, against
the real engine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.docker_fixtures import (  # noqa: F401 - fixtures
    TEST_IMAGE,
    TEST_LABEL,
    _docker_session,
    docker_client,
    read_line_matching,
    test_labels,
    unique_name,
)

LAUNCHBAY = shutil.which("launchbay") or str(Path(sys.executable).parent / "launchbay")


def launchbay(*args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAUNCHBAY, *args], capture_output=True, text=True, input=input, timeout=timeout, env={**os.environ}
    )


def label_flag(test_labels: dict[str, str]) -> list[str]:
    return ["-l", f"{TEST_LABEL}={test_labels[TEST_LABEL]}"]


def container_of(docker_client: Any, stderr: str) -> Any:
    pid = next(line.split("started ", 1)[1] for line in stderr.splitlines() if "launchbay: started " in line)
    return docker_client.containers.get(pid.rsplit(":", 1)[1])


class TestPreview:
    def test_preview_with_every_docker_flag(self) -> None:
        done = launchbay(
            "preview",
            "--docker",
            "127.0.0.1:5000/app:v1",
            "--pull",
            "always",
            "--volume",
            "/srv:/data:ro",
            "--network",
            "front",
            "--network",
            "back",
            "--mem-limit",
            "256m",
            "--memswap-limit",
            "-1",
            "--privileged",
            "--auto-remove",
            "--name",
            "nightly job",
            "-e",
            "A=1",
            "-l",
            "example.com/team=x",
            "--",
            "sh",
            "-c",
            "echo hi",
        )
        assert done.returncode == 0, done.stderr
        preview = json.loads(done.stdout)
        assert preview["image_pull_policy"] == "ALWAYS"
        assert preview["name"] == "nightly-job"
        config = preview["config"]
        assert config["Image"] == "127.0.0.1:5000/app:v1"
        assert config["Cmd"] == ["sh", "-c", "echo hi"]
        assert "A=1" in config["Env"]
        assert config["Labels"]["com.example.team"] == "x"
        assert config["HostConfig"]["Binds"] == ["/srv:/data:ro"]
        assert config["HostConfig"]["Memory"] == 256 << 20
        assert config["HostConfig"]["MemorySwap"] == -1
        assert config["HostConfig"]["Privileged"] is True
        assert config["HostConfig"]["AutoRemove"] is True
        assert config["HostConfig"]["NetworkMode"] == "front"
        assert preview["connect_networks"] == ["back"]

    @pytest.mark.parametrize(
        ("flag", "policy"),
        [
            ("never", "NEVER"),
            ("if-not-present", "IF_NOT_PRESENT"),
            ("missing", "IF_NOT_PRESENT"),
            ("IF_NOT_PRESENT", "IF_NOT_PRESENT"),
        ],
    )
    def test_pull_spellings(self, flag: str, policy: str) -> None:
        done = launchbay("preview", "--docker", "busybox", "--pull", flag, "--", "true")
        assert json.loads(done.stdout)["image_pull_policy"] == policy

    def test_bad_flags_are_clear_errors(self) -> None:
        done = launchbay("preview", "--docker", "busybox", "--pull", "sometimes", "--", "true")
        assert done.returncode == 2 and "unknown pull policy 'sometimes'" in done.stderr
        done = launchbay("preview", "--docker", "busybox", "--volume", "/no-colon", "--", "true")
        assert done.returncode == 2 and "'/no-colon'" in done.stderr and "path:container_path" in done.stderr
        done = launchbay("preview", "--docker", "busybox", "--mem-limit", "lots", "--", "true")
        assert done.returncode == 2 and "Invalid memory size 'lots'" in done.stderr
        assert "Traceback" not in done.stderr

    def test_blocks_saved_from_flags(self) -> None:
        done = launchbay(
            "block",
            "save",
            "docker-registry",
            "my-reg",
            "--username",
            "ci",
            "--password-stdin",
            "--registry-url",
            "127.0.0.1:5000",
            input="sup3r-secret\n",
        )
        assert done.returncode == 0, done.stderr
        done = launchbay(
            "block",
            "save",
            "docker-container",
            "my-job",
            "--docker",
            TEST_IMAGE,
            "--pull",
            "never",
            "--mem-limit",
            "64m",
            "--volume",
            "/a:/b",
            "--registry",
            "my-reg",
            "--",
            "echo",
            "hi",
        )
        assert done.returncode == 0, done.stderr
        from launchbay import DockerContainer

        saved = DockerContainer.load("my-job")
        assert saved.image == TEST_IMAGE
        assert saved.image_pull_policy.value == "NEVER"  # type: ignore[union-attr]
        assert saved.mem_limit == "64m" and saved.volumes == ["/a:/b"]
        assert saved.command == ["echo", "hi"]
        assert saved.image_registry is not None
        assert saved.image_registry.password.get_secret_value() == "sup3r-secret"
        shown = launchbay("block", "inspect", "docker-container/my-job")
        assert shown.returncode == 0 and "sup3r-secret" not in shown.stdout


@pytest.mark.docker
class TestRun:
    def test_echo_and_exit_code(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        done = launchbay(
            "run", "--docker", TEST_IMAGE, *label_flag(test_labels), "--", "sh", "-c", "echo hi; exit 4"
        )
        assert done.stdout == "hi\n"
        assert done.returncode == 4
        assert container_of(docker_client, done.stderr).attrs["State"]["ExitCode"] == 4

    def test_run_with_flags_as_docker_sees_them(
        self, docker_client: Any, test_labels: dict[str, str], tmp_path: Path
    ) -> None:
        name = unique_name("cli")
        done = launchbay(
            "run",
            "--docker",
            TEST_IMAGE,
            "--pull",
            "never",
            "--name",
            name,
            "--volume",
            f"{tmp_path}:/out",
            "--network-mode",
            "none",
            "--mem-limit",
            "32m",
            "--memswap-limit",
            "64m",
            *label_flag(test_labels),
            "--",
            "sh",
            "-c",
            "echo from-container > /out/f",
        )
        assert done.returncode == 0, done.stderr
        attrs = docker_client.containers.get(name).attrs
        assert attrs["HostConfig"]["NetworkMode"] == "none"
        assert attrs["HostConfig"]["Memory"] == 32 << 20
        assert attrs["HostConfig"]["MemorySwap"] == 64 << 20
        assert (tmp_path / "f").read_text() == "from-container\n"

    def test_auto_remove_and_oom(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        done = launchbay(
            "run",
            "--docker",
            TEST_IMAGE,
            "--auto-remove",
            "--mem-limit",
            "8m",
            "--memswap-limit",
            "8m",
            *label_flag(test_labels),
            "--",
            "sh",
            "-c",
            "sleep 0.2; x=$(head -c 64m /dev/zero | tr '\\0' a)",
        )
        assert done.returncode == 137
        assert "OOMKilled" in done.stderr
        assert (
            docker_client.containers.list(
                all=True, filters={"label": f"io.launchbay.test-run={test_labels[TEST_LABEL]}"}
            )
            == []
        )

    def test_missing_image_under_never(self, docker_client: Any) -> None:
        done = launchbay("run", "--docker", "launchbay-test/absent:9", "--pull", "never", "--", "true")
        assert done.returncode == 125
        assert "'launchbay-test/absent:9' is not present" in done.stderr
        assert "Traceback" not in done.stderr

    def test_no_engine(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
        done = launchbay("run", "--docker", TEST_IMAGE, "--", "true")
        assert done.returncode == 125
        assert "Could not connect to Docker at unix://" in done.stderr
        assert "Traceback" not in done.stderr

    def test_kill_and_attach_from_other_shells(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        runner = subprocess.Popen(
            [
                LAUNCHBAY,
                "run",
                "--docker",
                TEST_IMAGE,
                *label_flag(test_labels),
                "--",
                "sh",
                "-c",
                'trap "echo stopping; exit 5" TERM; echo ready; while :; do sleep 0.1; done',
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            pid = read_line_matching(runner.stderr, r"launchbay: started (\S+)").group(1)
            read_line_matching(runner.stdout, r"^ready$")
            runner.send_signal(signal.SIGKILL)  # the launcher dies; the container runs on
            runner.wait(10)
            attacher = subprocess.Popen(
                [LAUNCHBAY, "attach", pid], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            read_line_matching(attacher.stdout, r"^ready$")  # the output from the start
            killed = launchbay("kill", pid, "--grace", "20")
            assert killed.returncode == 0, killed.stderr
            out, err = attacher.communicate(timeout=60)
            assert "stopping\n" in out
            assert attacher.returncode == 5, err
        finally:
            runner.kill()

    def test_kill_errors(self, docker_client: Any) -> None:
        done = launchbay("kill", "unix:///var/run/docker.sock:" + "0" * 64)
        assert done.returncode == 1 and "not found" in done.stderr
        done = launchbay("kill", "tcp://10.9.8.7:2376:" + "0" * 64)
        assert done.returncode == 1 and "tcp://10.9.8.7:2376" in done.stderr

    def test_resource_flags_as_docker_sees_them(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        done = launchbay(
            "run", "--docker", TEST_IMAGE, "--cpus", "0.5", "--memory", "64m", "--shm-size", "16m",
            *label_flag(test_labels), "--", "sh", "-c", "df -k /dev/shm | tail -n 1",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        host = container_of(docker_client, done.stderr).attrs["HostConfig"]
        assert (host["NanoCpus"], host["Memory"], host["ShmSize"]) == (500_000_000, 64 << 20, 16 << 20)
        assert done.stdout.split()[1] == str(16 << 10)

    def test_a_timeout_stops_the_container_and_exits_124(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        # sleep as PID 1 ignores SIGTERM: it is killed after the grace (1 s here).
        done = launchbay(
            "run", "--docker", TEST_IMAGE, "--timeout", "1", "--grace", "1", *label_flag(test_labels),
            "--", "sleep", "60",
        )  # fmt: skip
        assert done.returncode == 124, done.stderr
        assert "timed out after 1 s and was stopped (status code 137)" in done.stderr
        assert container_of(docker_client, done.stderr).attrs["State"]["Status"] == "exited"

    def test_ctrl_c_reaches_the_container_as_sigint(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        runner = subprocess.Popen(
            [
                LAUNCHBAY, "run", "--docker", TEST_IMAGE, *label_flag(test_labels), "--",
                "sh", "-c", 'trap "echo got INT; exit 7" INT; trap "exit 8" TERM; echo ready; while :; do sleep 0.1; done',
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            pid = read_line_matching(runner.stderr, r"launchbay: started (\S+)").group(1)
            read_line_matching(runner.stdout, r"^ready$")
            runner.send_signal(signal.SIGINT)
            out, _ = runner.communicate(timeout=60)
            assert runner.returncode == 130
            assert "got INT\n" in out
            state = docker_client.containers.get(pid.rsplit(":", 1)[1]).attrs["State"]
            assert (state["Status"], state["ExitCode"]) == ("exited", 7)
        finally:
            runner.kill()

    def test_a_second_ctrl_c_kills_the_container_at_once(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        runner = subprocess.Popen(
            [
                LAUNCHBAY,
                "run",
                "--docker",
                TEST_IMAGE,
                "--grace",
                "900",
                *label_flag(test_labels),
                "--",
                "sleep",
                "600",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            pid = read_line_matching(runner.stderr, r"launchbay: started (\S+)").group(1)
            runner.send_signal(signal.SIGINT)
            read_line_matching(runner.stderr, r"stopping Docker container")
            runner.send_signal(signal.SIGINT)  # were it ignored, the test would time out
            runner.communicate(timeout=120)
            assert runner.returncode == 130
            state = docker_client.containers.get(pid.rsplit(":", 1)[1]).attrs["State"]
            assert (state["Status"], state["ExitCode"]) == ("exited", 137)
        finally:
            runner.kill()

    def test_the_database_url_is_in_neither_preview_nor_container(
        self, docker_client: Any, test_labels: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", "postgresql://u:PW@127.0.0.1/db")
        preview = launchbay("preview", "--docker", TEST_IMAGE, "--", "true")
        assert preview.returncode == 0, preview.stderr
        assert "PW" not in preview.stdout + preview.stderr
        done = launchbay("run", "--docker", TEST_IMAGE, *label_flag(test_labels), "--", "true")
        assert done.returncode == 0, done.stderr
        assert "PW" not in done.stdout + done.stderr
        env = container_of(docker_client, done.stderr).attrs["Config"]["Env"]
        assert not any("PW" in entry for entry in env)
        # Asked for with -e: it goes in; the preview still masks the password.
        asked = launchbay(
            "preview",
            "--docker",
            TEST_IMAGE,
            "-e",
            "LAUNCHBAY_DATABASE_URL=postgresql://u:PW@h/db",
            "--",
            "true",
        )
        assert "LAUNCHBAY_DATABASE_URL=postgresql://u:***@h/db" in json.loads(asked.stdout)["config"]["Env"]
        assert "PW" not in asked.stdout
