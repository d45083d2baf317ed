"""``--cpus``, ``--memory``, ``--gpus`` and ``--shm-size`` (SPEC 15): what each kind
is given, exactly as it would be sent, and clear errors for values it cannot take."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
import yaml

from tests.cli.commands import LAUNCHBAY

GIB = 1 << 30


def launchbay(*args: str) -> subprocess.CompletedProcess[str]:
    # Wide: a usage error's box must not wrap the message the tests look for.
    return subprocess.run(
        [LAUNCHBAY, *args], capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "400"}
    )


def docker_host_config(*flags: str) -> dict[str, Any]:
    done = launchbay("preview", "--docker", "busybox:1.36", *flags, "--", "true")
    assert done.returncode == 0, done.stderr
    host_config: dict[str, Any] = json.loads(done.stdout)["config"]["HostConfig"]
    return host_config


def kubernetes_resources(*flags: str) -> dict[str, Any]:
    done = launchbay("preview", "--kubernetes", "busybox:1.36", *flags, "--", "true")
    assert done.returncode == 0, done.stderr
    container = yaml.safe_load(done.stdout)["spec"]["template"]["spec"]["containers"][0]
    resources: dict[str, Any] = container.get("resources", {})
    return resources


class TestDocker:
    def test_every_resource_flag_as_docker_run_sends_it(self) -> None:
        host_config = docker_host_config(
            "--cpus", "1.5", "--memory", "1.5g", "--gpus", "all", "--shm-size", "64m"
        )
        assert host_config["NanoCpus"] == 1_500_000_000
        assert host_config["Memory"] == int(1.5 * GIB)
        assert host_config["ShmSize"] == 64 << 20
        assert host_config["DeviceRequests"] == [
            {"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}
        ]

    def test_a_number_of_gpus_and_plain_byte_counts(self) -> None:
        host_config = docker_host_config("--gpus", "2", "--memory", "100000000", "--shm-size", "1000000")
        assert host_config["DeviceRequests"][0]["Count"] == 2
        assert host_config["Memory"] == 100_000_000
        assert host_config["ShmSize"] == 1_000_000
        assert "NanoCpus" not in host_config

    def test_memory_and_mem_limit_set_the_same_field(self) -> None:
        assert docker_host_config("--mem-limit", "256m")["Memory"] == 256 << 20
        done = launchbay(
            "preview", "--docker", "busybox", "--memory", "1g", "--mem-limit", "2g", "--", "true"
        )
        assert done.returncode == 2
        assert "--memory and --mem-limit both set mem_limit: give one of them" in done.stderr

    @pytest.mark.parametrize(
        ("flags", "field", "message"),
        [
            (["--cpus", "0"], "cpus", "cpus must be a number of CPUs above 0"),
            (["--cpus=-2"], "cpus", "cpus must be a number of CPUs above 0"),
            (["--gpus", "0"], "gpus", "gpus must be a number of GPUs above 0, or 'all', not 0"),
            (["--gpus", "some"], "gpus", "gpus must be a number of GPUs above 0, or 'all', not 'some'"),
            (["--shm-size", "lots"], "shm_size", "Invalid shm size 'lots'"),
            (["--shm-size", "0"], "shm_size", "Invalid shm size 0: it must be above 0"),
            (["--memory", "lots"], "mem_limit", "Invalid memory size 'lots'"),
        ],
    )
    def test_bad_values_are_clear_errors_naming_the_field(
        self, flags: list[str], field: str, message: str
    ) -> None:
        done = launchbay("preview", "--docker", "busybox", *flags, "--", "true")
        assert done.returncode == 2
        assert f"{field}: {message}" in done.stderr
        assert "Traceback" not in done.stderr

    def test_a_cpus_value_that_is_not_a_number(self) -> None:
        done = launchbay("preview", "--docker", "busybox", "--cpus", "many", "--", "true")
        assert done.returncode == 2 and "--cpus" in done.stderr and "Traceback" not in done.stderr

    def test_a_block_saved_with_resource_flags(self) -> None:
        done = launchbay(
            "block", "save", "docker-container", "sized", "--cpus", "0.5", "--memory", "1g", "--shm-size", "64m",
            "--gpus", "1", "--", "true",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        from launchbay import DockerContainer

        saved = DockerContainer.load("sized")
        assert (saved.cpus, saved.mem_limit, saved.shm_size, saved.gpus) == (0.5, "1g", "64m", 1)


class TestKubernetes:
    def test_request_equals_limit(self) -> None:
        assert kubernetes_resources("--cpus", "1.5", "--memory", "512m", "--gpus", "2") == {
            "requests": {"cpu": "1500m", "memory": "512Mi"},
            "limits": {"cpu": "1500m", "memory": "512Mi", "nvidia.com/gpu": "2"},
        }

    @pytest.mark.parametrize(
        ("cpus", "quantity"), [("2", "2"), ("0.5", "500m"), ("0.001", "1m"), ("2.25", "2250m")]
    )
    def test_cpus_as_a_quantity(self, cpus: str, quantity: str) -> None:
        resources = kubernetes_resources("--cpus", cpus)
        assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == quantity

    @pytest.mark.parametrize(
        ("memory", "quantity"),
        [("1g", "1Gi"), ("1.5g", "1536Mi"), ("64k", "64Ki"), ("1000", "1000"), ("2Gi", "2Gi"), ("1t", "1Ti")],
    )
    def test_memory_in_dockers_units_as_a_binary_quantity(self, memory: str, quantity: str) -> None:
        resources = kubernetes_resources("--memory", memory)
        assert resources["requests"]["memory"] == resources["limits"]["memory"] == quantity

    def test_shm_size_is_refused_in_one_line(self) -> None:
        done = launchbay("preview", "--kubernetes", "busybox", "--shm-size", "64m", "--", "true")
        assert done.returncode == 2
        assert done.stderr == "launchbay: error: --shm-size is for docker runs, not kubernetes\n"
        assert done.stdout == ""

    @pytest.mark.parametrize(
        ("flags", "message"),
        [
            (["--gpus", "all"], "--gpus for Kubernetes takes a number of GPUs above 0, not 'all'"),
            (["--gpus", "0"], "--gpus for Kubernetes takes a number of GPUs above 0, not '0'"),
            (["--cpus", "0"], "--cpus must be a number of CPUs above 0, not 0"),
            (
                ["--cpus", "0.0005"],
                "--cpus 0.0005 is finer than Kubernetes allows: use a multiple of 0.001 CPU",
            ),
            (["--memory", "0"], "--memory must be above 0, not '0'"),
            (["--memory", "lots"], "Invalid memory size 'lots'"),
        ],
    )
    def test_bad_values_are_clear_errors_naming_the_flag(self, flags: list[str], message: str) -> None:
        done = launchbay("preview", "--kubernetes", "busybox", *flags, "--", "true")
        assert done.returncode == 2
        assert message in done.stderr
        assert "Traceback" not in done.stderr

    def test_the_cli_runs_a_job_once_as_the_api_does(self) -> None:
        from launchbay import KubernetesJob

        done = launchbay("preview", "--kubernetes", "busybox:1.36", "--name", "once", "--", "true")
        assert done.returncode == 0, done.stderr
        from_cli = yaml.safe_load(done.stdout)
        from_api = KubernetesJob(image="busybox:1.36", name="once", command=["true"]).build_job()
        assert from_cli["spec"]["backoffLimit"] == 0
        assert from_cli == from_api
