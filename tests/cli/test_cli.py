"""The installed ``launchbay`` command, run as a user would."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.commands import LAUNCHBAY, launchbay
from tests.proctools import alive


def test_run_prints_output_and_exits_0() -> None:
    done = launchbay("run", "--", "echo", "hello from launchbay")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from launchbay\n"
    assert "launchbay: started" in done.stderr


def test_run_exits_with_the_commands_status_code() -> None:
    done = launchbay("run", "--", "sh", "-c", "exit 3")
    assert done.returncode == 3
    assert "exited with status code: 3" in done.stderr


def test_run_env_labels_name_working_dir(tmp_path: Path) -> None:
    done = launchbay(
        "run",
        "-q",
        "-e",
        "GREETING=hi there",
        "--name",
        "greeter",
        "--working-dir",
        str(tmp_path),
        "--",
        "sh",
        "-c",
        'echo "$GREETING"; pwd',
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["hi there", str(tmp_path)]
    assert done.stderr == ""


def test_run_missing_command_exits_127_with_a_message() -> None:
    done = launchbay("run", "--", "no-such-command-xyz")
    assert done.returncode == 127
    assert "Command not found: 'no-such-command-xyz'" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_flags_are_clear_errors() -> None:
    done = launchbay("run", "--docker", "x", "--kubernetes", "y", "--", "true")
    assert done.returncode == 2 and "choose one of" in done.stderr
    done = launchbay("run", "-e", "=x", "--", "true")
    assert done.returncode == 2 and "needs a KEY" in done.stderr
    done = launchbay("run")
    assert done.returncode == 2 and "empty command" in done.stderr
    assert "Traceback" not in done.stderr


def test_preview_prints_env_and_command() -> None:
    done = launchbay("preview", "-e", "A=1", "--", "echo", "hi")
    assert done.returncode == 0
    assert done.stdout.splitlines()[-2:] == ["A=1 \\", "echo hi"]


def test_help_everywhere() -> None:
    for args in (
        ["--help"],
        ["run", "--help"],
        ["preview", "--help"],
        ["kill", "--help"],
        ["attach", "--help"],
        ["block", "--help"],
        ["block", "save", "--help"],
        ["block", "ls", "--help"],
    ):
        done = launchbay(*args)
        assert done.returncode == 0 and "Usage" in done.stdout, args


@pytest.mark.slow
def test_kill_from_another_shell_ends_the_run_and_its_grandchildren(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    tree = f"sleep 300 & echo $! > {marker}; wait"
    run = subprocess.Popen(
        [LAUNCHBAY, "run", "--", "sh", "-c", tree], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    infra_pid = None
    assert run.stderr is not None
    for line in run.stderr:
        if "started " in line:
            infra_pid = line.strip().rsplit("started ", 1)[1]
            break
    assert infra_pid
    while not (marker.exists() and marker.read_text().strip()):
        time.sleep(0.02)
    grandchild = int(marker.read_text())
    started = time.monotonic()
    killed = launchbay("kill", infra_pid, "--grace", "5")
    assert killed.returncode == 0, killed.stderr
    assert run.wait(timeout=30) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5 + 1
    assert not alive(grandchild)
    again = launchbay("kill", infra_pid)
    assert again.returncode == 1 and "was not found" in again.stderr


def test_sigterm_to_launchbay_stops_the_run(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    run = subprocess.Popen(
        [LAUNCHBAY, "run", "--", "sh", "-c", f"echo $$ > {marker}; sleep 300"],
        stderr=subprocess.PIPE,
        text=True,
    )
    while not (marker.exists() and marker.read_text().strip()):
        time.sleep(0.02)
    child = int(marker.read_text())
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=30) == 128 + signal.SIGTERM
    assert not alive(child)


@pytest.mark.slow
def test_one_gib_of_output_passes_byte_identical() -> None:
    # A deterministic 1 GiB stream: 1 MiB of SHA-256 counter output, 1024 times,
    # each block tagged with its index so a lost or repeated block shows.
    generator = (
        "import hashlib,sys\nw=sys.stdout.buffer.write\nblock=b''.join(hashlib.sha256(i.to_bytes(8,'little')).digest() for i in range(32767))\n"
        "for i in range(1024): w(i.to_bytes(32,'little') + block)\n"
    )
    direct = subprocess.run([sys.executable, "-c", generator], capture_output=True, check=True).stdout
    expected = hashlib.sha256(direct).hexdigest()
    assert len(direct) == 1 << 30
    del direct
    proc = subprocess.Popen(
        [LAUNCHBAY, "run", "-q", "--", sys.executable, "-c", generator], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    digest, size = hashlib.sha256(), 0
    while chunk := proc.stdout.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    assert proc.wait() == 0
    assert size == 1 << 30 and digest.hexdigest() == expected


def test_block_save_ls_inspect_load_rm(tmp_path: Path) -> None:
    done = launchbay("block", "save", "process", "greet", "-e", "WHO=bay", "--", "sh", "-c", 'echo "hi $WHO"')
    assert done.returncode == 0, done.stderr
    assert "saved process/greet" in done.stderr
    listed = json.loads(launchbay("block", "ls", "--json").stdout)
    assert [(b["type"], b["name"]) for b in listed] == [("process", "greet")]
    inspected = json.loads(launchbay("block", "inspect", "process/greet", "--json").stdout)
    assert inspected["data"]["env"] == {"WHO": "bay"} and inspected["capabilities"] == ["run-infrastructure"]
    run = launchbay("run", "-q", "--infra", "greet")
    assert run.returncode == 0 and run.stdout == "hi bay\n"
    run = launchbay("run", "-q", "--infra", "process/greet", "-e", "WHO=you")
    assert run.stdout == "hi you\n"
    document = launchbay("block", "load", "process/greet").stdout
    (tmp_path / "doc.json").write_text(document)
    copy = launchbay("block", "save", "process", "greet-copy", "--file", str(tmp_path / "doc.json"))
    assert copy.returncode == 0, copy.stderr
    again = launchbay("block", "save", "process", "greet", "--", "true")
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert launchbay("block", "rm", "process/greet", "process/greet-copy").returncode == 0
    missing = launchbay("block", "inspect", "process/greet")
    assert missing.returncode == 2 and "No process block named 'greet'" in missing.stderr


def test_block_save_from_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("command: [echo, from-yaml]\nenv:\n  A: '1'\n")
    assert launchbay("block", "save", "process", "yml", "-f", str(tmp_path / "b.yaml")).returncode == 0
    assert launchbay("run", "-q", "--infra", "yml").stdout == "from-yaml\n"
    bad = launchbay("block", "save", "process", "bad", "-f", str(tmp_path / "nope.yaml"))
    assert bad.returncode == 2 and "cannot read" in bad.stderr


def test_invalid_block_fields_are_listed_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps({"command": "not-a-list", "stream_output": "maybe"}))
    done = launchbay("block", "save", "process", "bad", "-f", str(tmp_path / "b.json"))
    assert done.returncode == 2
    assert "command" in done.stderr and "stream_output" in done.stderr
    assert "Traceback" not in done.stderr


def test_flow_run_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text("def add(a, b):\n    return a + b\n")
    done = launchbay("run", "-q", "--flow", f"{tmp_path}/flows.py:add", "--param", "a=2", "--param", "b=5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"


def test_import_launchbay_stays_light() -> None:
    code = (
        "import sys, launchbay\n"
        "heavy = [m for m in ('docker', 'kubernetes', 'pydantic', 'anyio', 'typer', 'rich') if m in sys.modules]\n"
        "launchbay.Process\n"
        "late = [m for m in ('docker', 'kubernetes') if m in sys.modules]\n"
        "print(heavy, late)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"


def test_a_saved_secret_never_shows_in_inspect_load_preview_or_logs(launchbay_home: Path) -> None:
    secret = "pw-Zq81-never-print"
    saved = launchbay(
        "block",
        "save",
        "docker-registry",
        "private",
        "--username",
        "me",
        "--password-stdin",
        "--registry-url",
        "127.0.0.1:1",
        input=secret + "\n",
    )
    assert saved.returncode == 0, saved.stderr
    outputs = [
        launchbay("block", "inspect", "docker-registry/private"),
        launchbay("block", "inspect", "docker-registry/private", "--json"),
        launchbay("block", "load", "docker-registry/private"),
        launchbay("preview", "--docker", "127.0.0.1:1/app:1", "--registry", "private", "--", "true"),
        launchbay("block", "ls"),
    ]
    for done in outputs:
        assert done.returncode == 0, done.stderr
        assert secret not in done.stdout + done.stderr
    assert "**********" in outputs[0].stdout
    # It was stored all the same: the registry block loads with its password.
    code = "from launchbay import DockerRegistry; print(DockerRegistry.load('private').password.get_secret_value())"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert loaded.stdout.strip() == secret
