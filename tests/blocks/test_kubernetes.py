"""KubernetesClusterConfig: reading kubeconfigs, contexts, secrets, clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from launchbay import Block, KubernetesClusterConfig
from launchbay.blocks.kubernetes import MASK


def kubeconfig(
    server: str = "https://k8s.example:6443",
    *,
    contexts: tuple[str, ...] = ("dev", "prod"),
    current: str | None = "dev",
) -> dict:
    config: dict = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": f"c-{name}", "cluster": {"server": f"{server}/{name}", "insecure-skip-tls-verify": True}}
            for name in contexts
        ],
        "users": [{"name": f"u-{name}", "user": {"token": f"secret-token-{name}"}} for name in contexts],
        "contexts": [
            {"name": name, "context": {"cluster": f"c-{name}", "user": f"u-{name}"}} for name in contexts
        ],
    }
    if current:
        config["current-context"] = current
    return config


@pytest.fixture
def kubeconfig_file(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig()))
    return path


def test_from_file_uses_current_context_and_stores_whole_file(kubeconfig_file: Path) -> None:
    block = KubernetesClusterConfig.from_file(kubeconfig_file)
    assert block.context_name == "dev"
    assert block.config == kubeconfig()
    assert block.server == "https://k8s.example:6443/dev"


def test_from_file_named_context(kubeconfig_file: Path) -> None:
    assert KubernetesClusterConfig.from_file(kubeconfig_file, "prod").context_name == "prod"


def test_from_file_unknown_context_lists_available(kubeconfig_file: Path) -> None:
    with pytest.raises(ValueError, match=r"Context 'staging' not found in .*Available contexts: dev, prod"):
        KubernetesClusterConfig.from_file(kubeconfig_file, "staging")


def test_from_file_without_current_context(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig(current=None)))
    with pytest.raises(ValueError, match="no current context.*dev, prod"):
        KubernetesClusterConfig.from_file(path)


def test_from_file_expands_user_and_resolves(kubeconfig_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(kubeconfig_file.parent))
    block = KubernetesClusterConfig.from_file("~/./config")
    assert block.context_name == "dev"


def test_from_file_default_location_respects_kubeconfig(
    kubeconfig_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_file))
    assert KubernetesClusterConfig.from_file().config == kubeconfig()


def test_from_file_default_location_is_home_kube_config(
    kubeconfig_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(kubeconfig_file.read_text())
    assert KubernetesClusterConfig.from_file().context_name == "dev"


def test_from_file_merges_a_kubeconfig_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.write_text(yaml.safe_dump(kubeconfig(contexts=("dev",), current=None)))
    second.write_text(yaml.safe_dump(kubeconfig(contexts=("prod", "dev"), current="prod")))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'absent'}:{second}")
    block = KubernetesClusterConfig.from_file()
    assert block.context_name == "prod"
    assert [c["name"] for c in block.config["contexts"]] == ["dev", "prod"]
    # The first file to define a name wins.
    assert block.config["clusters"][0]["cluster"]["server"] == "https://k8s.example:6443/dev"


def test_from_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="No kubeconfig file at"):
        KubernetesClusterConfig.from_file(tmp_path / "nope")


def test_yaml_string_config_is_parsed() -> None:
    block = KubernetesClusterConfig(config=yaml.safe_dump(kubeconfig()), context_name="prod")
    assert block.config == kubeconfig()
    with pytest.raises(ValueError, match="kubeconfig mapping"):
        KubernetesClusterConfig(config="just a string", context_name="x")


def test_both_fields_required() -> None:
    with pytest.raises(ValueError):
        KubernetesClusterConfig(config=kubeconfig())  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        KubernetesClusterConfig(context_name="dev")  # type: ignore[call-arg]


def test_credentials_never_printed_but_stored(kubeconfig_file: Path) -> None:
    config = kubeconfig()
    config["users"].append(
        {
            "name": "oidc",
            "user": {
                "client-key-data": "PRIVATE-KEY",
                "password": "hunter2",
                "auth-provider": {
                    "name": "oidc",
                    "config": {
                        "id-token": "ID-TOKEN",
                        "client-secret": "CS",
                        "idp-issuer-url": "https://idp",
                    },
                },
                "exec": {"command": "aws", "env": [{"name": "AWS_SECRET", "value": "AWS-SECRET"}]},
            },
        }
    )
    block = KubernetesClusterConfig(config=config, context_name="dev")
    secrets = ["secret-token-dev", "PRIVATE-KEY", "hunter2", "ID-TOKEN", "CS", "AWS-SECRET"]
    shown = [repr(block), str(block), block.model_dump_json(), json.dumps(block.to_document())]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    assert MASK in block.model_dump_json()
    assert "https://idp" in block.model_dump_json()  # non-secret values are kept
    # The store gets the real values, and loading gives them back.
    block.save("dev-cluster")
    loaded = KubernetesClusterConfig.load("dev-cluster")
    assert loaded.config == config and loaded.context_name == "dev"
    assert Block.load("kubernetes-cluster-config/dev-cluster") == loaded


def test_get_api_client_leaves_global_configuration_alone(kubeconfig_file: Path) -> None:
    from kubernetes.client import Configuration

    before = Configuration.get_default_copy().host
    client = KubernetesClusterConfig.from_file(kubeconfig_file, "prod").get_api_client()
    assert client.configuration.host == "https://k8s.example:6443/prod"
    assert client.configuration.auth_settings()["BearerToken"]["value"] == "Bearer secret-token-prod"
    assert Configuration.get_default_copy().host == before


def test_configure_client_sets_global_configuration(
    kubeconfig_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes.client import ApiClient, Configuration

    monkeypatch.setattr(Configuration, "_default", None)  # restored after the test
    KubernetesClusterConfig.from_file(kubeconfig_file, "prod").configure_client()
    assert ApiClient().configuration.host == "https://k8s.example:6443/prod"


def test_invalid_config_gives_a_clear_error() -> None:
    block = KubernetesClusterConfig(
        config={"contexts": [{"name": "x", "context": {"cluster": "nope", "user": "nope"}}]}, context_name="x"
    )
    with pytest.raises(ValueError, match="Invalid kubeconfig for context 'x'"):
        block.get_api_client()
