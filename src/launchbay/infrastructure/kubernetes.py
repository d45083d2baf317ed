"""``KubernetesJob``: run the command as a Kubernetes Job.

The block: its fields, their validation, ``preview()``, and delegation. What a
run creates is built by ``launchbay._internal.kubernetes.manifest`` (pure, no
cluster, no ``kubernetes`` package); running, killing and attaching load
``launchbay._internal.kubernetes.runner`` on first use, which takes that
frozen spec and returns an outcome this block wraps in its result.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import jsonpatch
from anyio.abc import TaskStatus
from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from launchbay._internal.images import default_image
from launchbay._internal.kubernetes import manifest, resources
from launchbay.blocks.kubernetes import KubernetesClusterConfig
from launchbay.infrastructure.base import Infrastructure, InfrastructureResult
from launchbay.settings import base_environment, get_current_settings

if TYPE_CHECKING:
    from launchbay._internal.kubernetes.runner import RunOutcome

KubernetesManifest = dict[str, Any]


class KubernetesImagePullPolicy(str, Enum):
    """When the kubelet pulls the job's image."""

    ALWAYS = "Always"
    NEVER = "Never"
    IF_NOT_PRESENT = "IfNotPresent"


class JobCustomizations(jsonpatch.JsonPatch):
    """An RFC 6902 JSON patch applied to the job manifest, with a readable repr."""

    def __repr__(self) -> str:
        return f"JobCustomizations({self.patch!r})"


def _to_customizations(value: Any) -> JobCustomizations:
    if isinstance(value, JobCustomizations):
        return value
    if isinstance(value, jsonpatch.JsonPatch):
        value = value.patch
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError(
                f"Unable to parse customizations as JSON: {text!r}. "
                "Please make sure that the provided value is a valid JSON string."
            ) from None
    if isinstance(value, dict):  # one operation on its own
        value = [value]
    if not isinstance(value, list) or not all(isinstance(op, dict) for op in value):
        raise ValueError(
            "customizations must be a JSON patch: a list of operations such as "
            '[{"op": "add", "path": "/spec/backoffLimit", "value": 0}]'
        )
    try:
        return JobCustomizations(copy.deepcopy(value))
    except (jsonpatch.InvalidJsonPatch, jsonpatch.JsonPointerException) as exc:
        raise ValueError(f"Invalid JSON patch in customizations: {exc}") from None


Customizations = Annotated[
    JobCustomizations,
    PlainValidator(_to_customizations),
    PlainSerializer(lambda patch: copy.deepcopy(patch.patch), return_type=list),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "object"},
            "description": "RFC 6902 JSON patch operations applied to the job manifest.",
        }
    ),
]


class KubernetesJobResult(InfrastructureResult):
    """The result of a ``KubernetesJob`` run."""


class KubernetesJob(Infrastructure):
    """Run a command as a Kubernetes Job."""

    _block_type_name: ClassVar[str] = "Kubernetes Job"
    _documentation_url: ClassVar[str] = "https://launchbay.dev/infrastructure/kubernetes"

    type: Literal["kubernetes-job"] = Field(
        default="kubernetes-job", description="The kind of infrastructure."
    )
    image: str | None = Field(
        default=None,
        description="The image of the job's container; defaults to the launchbay image "
        "unless the job manifest's first container names one.",
    )
    namespace: str | None = Field(
        default=None,
        description="Namespace of the job; 'default' unless the job manifest names one.",
    )
    service_account_name: str | None = Field(
        default=None, description="Service account the job's pod runs as."
    )
    image_pull_policy: KubernetesImagePullPolicy | None = Field(
        default=None, description="Always, Never or IfNotPresent (Kubernetes' default if unset)."
    )
    cluster_config: KubernetesClusterConfig | None = Field(
        default=None,
        description="The cluster to use; default: in-cluster config, else the local kubeconfig.",
    )
    job: KubernetesManifest = Field(
        default_factory=manifest.base_job_manifest,
        title="Base Job Manifest",
        description="The job manifest to start from; must contain the base job manifest.",
    )
    customizations: Customizations = Field(
        default_factory=lambda: JobCustomizations([]),
        title="Job Customizations",
        description="RFC 6902 JSON patch applied to the job manifest after the shortcut fields.",
    )
    job_watch_timeout_seconds: int | None = Field(
        default=None,
        description="How long to wait for the job to finish once its pod has started; None waits forever.",
    )
    pod_watch_timeout_seconds: int = Field(
        default=60, description="How long to wait for the job's pod to start."
    )
    pod_failure_grace_seconds: float | None = Field(
        default=10,
        description="How long a pod may stay stuck on a cause it cannot leave by itself "
        "(ErrImagePull, ImagePullBackOff, InvalidImageName, CreateContainerConfigError, "
        "unschedulable) before the run fails with that cause and the job is deleted; "
        "None waits up to pod_watch_timeout_seconds instead.",
    )
    stream_output: bool = Field(default=True, description="Relay the job's container log to our stdout.")
    finished_job_ttl: int | None = Field(
        default=None,
        description="Seconds Kubernetes keeps the job after it finishes (ttlSecondsAfterFinished).",
    )
    backoff_limit: int | None = Field(
        default=0,
        ge=0,
        description="Retries after a failed pod (spec.backoffLimit); 0 runs the command once. "
        "Applied unless the job manifest has a backoffLimit (customizations, applied after, "
        "override it); None leaves Kubernetes' default (6).",
    )
    cpu_request: str | None = Field(
        default=None, description="CPU the pod is scheduled with, a Kubernetes quantity (500m, 1.5)."
    )
    cpu_limit: str | None = Field(default=None, description="CPU the container may use (500m, 2).")
    memory_request: str | None = Field(
        default=None, description="Memory the pod is scheduled with, a Kubernetes quantity (256Mi, 1Gi)."
    )
    memory_limit: str | None = Field(
        default=None, description="Memory the container may use before it is OOM killed (512Mi, 2Gi)."
    )
    gpus: int | None = Field(
        default=None, ge=0, description="GPUs for the container (an nvidia.com/gpu limit); 0 or None: none."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels the pod's node must have (spec.nodeSelector)."
    )
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Taints the pod tolerates: mappings of key, operator (Exists/Equal), value, "
        "effect (NoSchedule/PreferNoSchedule/NoExecute), tolerationSeconds.",
    )
    image_pull_secrets: list[str] = Field(
        default_factory=list,
        description="Names of docker-registry secrets in the job's namespace to pull the image with.",
    )

    # --- validation -----------------------------------------------------------------

    @field_validator("job")
    @classmethod
    def ensure_job_includes_all_required_components(cls, value: KubernetesManifest) -> KubernetesManifest:
        manifest.check_required_paths(value)
        return value

    @field_validator("job")
    @classmethod
    def ensure_job_has_compatible_values(cls, value: KubernetesManifest) -> KubernetesManifest:
        manifest.check_compatible_values(value)
        return value

    @field_validator("image_pull_policy", mode="before")
    @classmethod
    def _pull_policy_by_name(cls, value: Any) -> Any:
        """Accept ``IfNotPresent``, ``IF_NOT_PRESENT`` or ``if-not-present``."""
        if isinstance(value, str) and not isinstance(value, KubernetesImagePullPolicy):
            wanted = value.replace("-", "").replace("_", "").lower()
            for policy in KubernetesImagePullPolicy:
                if wanted == policy.value.lower():
                    return policy
        return value

    @field_validator("pod_watch_timeout_seconds", "job_watch_timeout_seconds", "finished_job_ttl")
    @classmethod
    def _not_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("cpu_request", "cpu_limit", "memory_request", "memory_limit", mode="before")
    @classmethod
    def _quantity(cls, value: Any, info: ValidationInfo) -> str | None:
        return resources.quantity(str(info.field_name), value)

    @field_validator("gpus", "backoff_limit", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"{info.field_name}: must be a whole number, not {value!r}")
        return value

    @field_validator("tolerations", mode="before")
    @classmethod
    def _tolerations(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, Mapping):  # one toleration on its own
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError("tolerations: must be a list of mappings (key, operator, value, effect)")
        return [resources.toleration(index, item) for index, item in enumerate(value)]

    @field_validator("image_pull_secrets", mode="before")
    @classmethod
    def _secret_names(cls, value: Any) -> Any:
        if isinstance(value, str):  # one name on its own
            value = [value]
        if isinstance(value, (list, tuple)) and not all(isinstance(name, str) and name for name in value):
            raise ValueError("image_pull_secrets: must be a list of secret names")
        return value

    @model_validator(mode="after")
    def _requests_within_limits(self) -> KubernetesJob:
        resources.check_request_within_limit("cpu", self.cpu_request, self.cpu_limit)
        resources.check_request_within_limit("memory", self.memory_request, self.memory_limit)
        return self

    @model_validator(mode="after")
    def _default_namespace_and_image(self) -> KubernetesJob:
        # Written to __dict__: assignment would validate (and call this) again.
        if self.namespace is None and manifest.manifest_namespace(self.job) is None:
            self.__dict__["namespace"] = manifest.DEFAULT_NAMESPACE
        if self.image is None and manifest.manifest_image(self.job) is None:
            self.__dict__["image"] = default_image()
        return self

    # --- manifests ----------------------------------------------------------------------

    @classmethod
    def base_job_manifest(cls) -> KubernetesManifest:
        """The smallest job manifest launchbay runs (a fresh copy)."""
        return manifest.base_job_manifest()

    @staticmethod
    def job_from_file(path: str | Path) -> KubernetesManifest:
        """A job manifest from a YAML or JSON file."""
        document = manifest.load_document(path, "Job manifest")
        if not isinstance(document, dict):
            raise ValueError(f"Job manifest file {str(path)!r} must contain a mapping (a Job).")
        return document

    @staticmethod
    def customize_from_file(path: str | Path) -> JobCustomizations:
        """A JSON patch (list of operations) from a YAML or JSON file."""
        return _to_customizations(manifest.load_document(path, "Customizations"))

    def _spec(self) -> manifest.JobSpec:
        """What a run of this block creates and needs, with the current settings.
        Credentials in the settings stay out of the Job unless its own ``env``
        names them."""
        settings = get_current_settings()
        return manifest.build_spec(
            self,
            base_environment=base_environment(include_credentials=False),
            api_url_setting=settings.api_url,
            dns_name=settings.api_dns_name,
            cluster_uid=settings.kubernetes_cluster_uid,
        )

    def build_job(self) -> KubernetesManifest:
        """The manifest ``run`` creates: ``job``, then the shortcut fields, then
        ``customizations``."""
        return dict(self._spec().manifest)

    def preview(self) -> str:
        """The YAML of ``build_job()``, passwords in URLs masked."""
        import yaml

        return yaml.safe_dump(manifest.redacted(self.build_job()), sort_keys=False)

    # --- running ----------------------------------------------------------------------

    @staticmethod
    def _result(outcome: RunOutcome) -> KubernetesJobResult:
        return KubernetesJobResult(
            identifier=outcome.pid,
            status_code=outcome.status_code,
            reason=outcome.reason,
            exit_reason=outcome.exit_reason,
            still_running=outcome.still_running,
        )

    async def _run(self, task_status: TaskStatus[str]) -> KubernetesJobResult:
        from launchbay._internal.kubernetes import runner

        return self._result(await runner.run_job(self._spec(), task_status))

    async def _kill(self, infrastructure_pid: str, grace_seconds: float) -> None:
        from launchbay._internal.kubernetes import runner

        await runner.kill_job(self._spec(), infrastructure_pid, grace_seconds)

    async def _attach(self, infrastructure_pid: str, task_status: TaskStatus[str]) -> KubernetesJobResult:
        from launchbay._internal.kubernetes import runner

        return self._result(await runner.attach_job(self._spec(), infrastructure_pid, task_status))
