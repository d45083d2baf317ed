"""The flow-run records a run can be prepared for (``prepare_for_flow_run``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from launchbay._internal.names import generate_name


class Flow(BaseModel):
    name: str


class Deployment(BaseModel):
    name: str
    updated: datetime | None = None


class FlowRun(BaseModel):
    id: UUID = Field(default_factory=uuid4)
    name: str = Field(default_factory=generate_name)
    entrypoint: str | None = Field(
        default=None, description="path/to/file.py:function or package.module:function"
    )
    parameters: dict[str, Any] = Field(default_factory=dict)
