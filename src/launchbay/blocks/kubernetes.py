"""``KubernetesClusterConfig``: a kubeconfig and the context to use from it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SerializationInfo, field_serializer, field_validator

from launchbay._internal.kubernetes import kubeconfig
from launchbay.blocks.core import Block

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

MASK = "**********"
# Keys of a kubeconfig user entry whose values are credentials.
_SECRET_USER_KEYS = ("client-key-data", "token", "password")


class KubernetesClusterConfig(Block):
    """How to reach a cluster: a whole kubeconfig plus the context to use.

    Credentials in the kubeconfig (client keys, tokens, passwords) are stored,
    but masked in ``repr`` and JSON output unless the block store asks for them.
    """

    _block_type_name: ClassVar[str] = "Kubernetes Cluster Config"
    _documentation_url: ClassVar[str] = "https://launchbay.dev/blocks/kubernetes-cluster-config"

    config: dict[str, Any] = Field(
        repr=False,
        description="The whole kubeconfig (a mapping, or its YAML text).",
    )
    context_name: str = Field(description="The kubeconfig context to use.")

    @field_validator("config", mode="before")
    @classmethod
    def _parse_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            import yaml

            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise ValueError(f"config is not valid YAML: {exc}") from None
            if not isinstance(value, dict):
                raise ValueError(
                    "config must be a kubeconfig mapping (apiVersion, clusters, contexts, users)"
                )
        return value

    @field_serializer("config", when_used="json")
    def _mask_credentials(self, config: dict[str, Any], info: SerializationInfo) -> dict[str, Any]:
        if info.context and info.context.get("reveal_secrets"):
            return config
        return masked_kubeconfig(config)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "context_name", self.context_name
        server = self.server
        if server:
            yield "server", server

    @property
    def server(self) -> str | None:
        """The API server URL of the context's cluster, when the config names one."""
        context = _named(self.config.get("contexts"), self.context_name) or {}
        cluster = _named(self.config.get("clusters"), context.get("cluster")) or {}
        server = cluster.get("server")
        return server if isinstance(server, str) else None

    # --- construction -----------------------------------------------------------

    @classmethod
    def from_file(
        cls, path: str | Path | None = None, context_name: str | None = None
    ) -> KubernetesClusterConfig:
        """Read a kubeconfig file (default: the Kubernetes client's default
        location, ``KUBECONFIG`` respected) and store all of it with the given
        context, or the file's current context."""
        config, source = kubeconfig.read(path)
        contexts = [
            entry["name"]
            for entry in config.get("contexts") or []
            if isinstance(entry, dict) and isinstance(entry.get("name"), str)
        ]
        if context_name is None:
            context_name = config.get("current-context") or None
            if not context_name:
                raise ValueError(
                    f"{source} has no current context; pass a context name "
                    f"(available contexts: {', '.join(contexts) or 'none'})."
                )
        if context_name not in contexts:
            raise ValueError(
                f"Context {context_name!r} not found in {source}. "
                f"Available contexts: {', '.join(contexts) or 'none'}."
            )
        return cls(config=config, context_name=context_name)

    # --- use ------------------------------------------------------------------------

    def get_api_client(self) -> ApiClient:
        """A (synchronous) Kubernetes API client for this config and context;
        the client library's global configuration is left alone."""
        from kubernetes import config as kube_config

        try:
            return kube_config.new_client_from_config_dict(
                config_dict=copy.deepcopy(self.config), context=self.context_name
            )
        except kube_config.ConfigException as exc:
            raise ValueError(f"Invalid kubeconfig for context {self.context_name!r}: {exc}") from None

    def configure_client(self) -> None:
        """Load this config into the Kubernetes client library's global
        configuration (what ``kubernetes.client.ApiClient()`` then uses)."""
        from kubernetes import config as kube_config

        try:
            kube_config.load_kube_config_from_dict(
                config_dict=copy.deepcopy(self.config), context=self.context_name
            )
        except kube_config.ConfigException as exc:
            raise ValueError(f"Invalid kubeconfig for context {self.context_name!r}: {exc}") from None


# --- helpers ------------------------------------------------------------------------


def _named(entries: Any, name: Any) -> dict[str, Any] | None:
    """The inner mapping of the ``{name, <kind>}`` entry called ``name``."""
    if not isinstance(entries, list) or not name:
        return None
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            for key, value in entry.items():
                if key != "name" and isinstance(value, dict):
                    return value
    return None


def masked_kubeconfig(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with every credential replaced by a mask."""
    masked = copy.deepcopy(config)
    for entry in masked.get("users") or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        for key in _SECRET_USER_KEYS:
            if user.get(key):
                user[key] = MASK
        provider = user.get("auth-provider")
        provider_config = provider.get("config") if isinstance(provider, dict) else None
        if isinstance(provider_config, dict):
            for key in provider_config:
                if "token" in key.lower() or "secret" in key.lower():
                    provider_config[key] = MASK
        exec_section = user.get("exec")
        exec_env = exec_section.get("env") if isinstance(exec_section, dict) else None
        if isinstance(exec_env, list):
            for variable in exec_env:
                if isinstance(variable, dict) and "value" in variable:
                    variable["value"] = MASK
    return masked
