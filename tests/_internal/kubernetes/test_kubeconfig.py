"""One kubeconfig locator for the cluster config block and the runner's
connection (no cluster: files only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from launchbay._internal.kubernetes import kubeconfig
from launchbay._internal.kubernetes.connection import config_source
from launchbay._internal.kubernetes.manifest import ClusterInputs
from launchbay.exceptions import InfrastructureError

CONFIG = {"apiVersion": "v1", "kind": "Config", "current-context": "dev", "contexts": [{"name": "dev"}]}


@pytest.fixture
def no_cluster_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def test_locate_the_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    files = kubeconfig.locate()
    assert files.candidates == ((tmp_path / ".kube" / "config").resolve(),) and files.existing == ()
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(yaml.safe_dump(CONFIG))
    assert kubeconfig.locate().existing == files.candidates


def test_locate_a_kubeconfig_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first, absent, second = tmp_path / "one", tmp_path / "absent", tmp_path / "two"
    first.write_text("{}")
    second.write_text("{}")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), "", str(absent), str(second)]))
    files = kubeconfig.locate()
    assert files.candidates == (first, absent, second)
    assert files.existing == (first, second)
    # An explicit path is one file, whatever KUBECONFIG says.
    assert kubeconfig.locate(second).candidates == (second,)


@pytest.mark.usefixtures("no_cluster_environment")
def test_the_connection_uses_the_same_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.write_text(yaml.safe_dump(CONFIG))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    source = config_source(ClusterInputs())
    assert source.kind == "kubeconfig" and source.path == str(first)
    # The key changes with the files' content (a new config is a new connection).
    second.write_text(yaml.safe_dump(CONFIG))
    again = config_source(ClusterInputs())
    assert again.path == os.pathsep.join([str(first), str(second)]) and again.key != source.key
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    with pytest.raises(InfrastructureError, match=r"no kubeconfig at '.*none' and not running in a cluster"):
        config_source(ClusterInputs())


@pytest.mark.usefixtures("no_cluster_environment")
def test_a_stored_config_wins_and_is_keyed_by_its_content(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")  # not needed when the config is stored
    dev = config_source(ClusterInputs(kubeconfig=CONFIG, context="dev"))
    assert dev.kind == "stored" and dev.config == CONFIG and dev.context == "dev"
    assert dev.key == config_source(ClusterInputs(kubeconfig=dict(CONFIG), context="dev")).key
    assert dev.key != config_source(ClusterInputs(kubeconfig=CONFIG, context="prod")).key
