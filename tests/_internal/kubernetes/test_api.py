"""The raw API access over ``kubernetes.aio``'s transport, against a real local
HTTP server (no cluster), and the client surface the version pin protects."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import anyio
import pytest
from aiohttp import web
from kubernetes.aio import client as aio_client

from launchbay._internal.kubernetes.api import KubeApi, KubernetesApiError, is_transient

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[KubeApi]:
    """A KubeApi (bearer token auth) talking to a local server running ``handler``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    configuration = aio_client.Configuration(host=f"http://127.0.0.1:{port}")
    configuration.api_key = {"BearerToken": "s3cret"}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    api = KubeApi(aio_client.ApiClient(configuration=configuration))
    try:
        yield api
    finally:
        await api.close()
        await runner.cleanup()


def run(test: Callable[[], Awaitable[None]]) -> None:
    anyio.run(test, backend="asyncio")


def test_the_pinned_client_major_version() -> None:
    # pyproject pins kubernetes>=37,<38: api.py uses ApiClient.param_serialize
    # and rest_client.request (see its docstring and docs/kubernetes.md).
    assert version("kubernetes").split(".")[0] == "37"
    parameters = inspect.signature(aio_client.ApiClient.param_serialize).parameters
    assert {"method", "resource_path", "query_params", "header_params", "body", "auth_settings"} <= set(
        parameters
    )
    # Why not the generated methods: the log one cannot resume at a timestamp.
    log_parameters = inspect.signature(aio_client.CoreV1Api.read_namespaced_pod_log).parameters
    assert "since_time" not in log_parameters and "since_seconds" in log_parameters


def test_requests_carry_auth_query_and_json_body() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": list(request.query.items()),
                "auth": request.headers.get("Authorization"),
                "body": await request.json() if request.can_read_body else None,
            }
        )
        return web.json_response({"metadata": {"name": "job-x", "uid": "u1"}}, status=201)

    async def main() -> None:
        async with serving(handler) as api:
            job = {"kind": "Job", "spec": {"aFieldNoModelKnows": 1}}  # sent as written
            created = await api.request(
                "POST", "/apis/batch/v1/namespaces/ns/jobs", what="POST job", body=job, query=[("a", "b c")]
            )
            assert created == {"metadata": {"name": "job-x", "uid": "u1"}}
            assert seen == [
                {
                    "method": "POST",
                    "path": "/apis/batch/v1/namespaces/ns/jobs",
                    "query": [("a", "b c")],
                    "auth": "Bearer s3cret",
                    "body": job,
                }
            ]

    run(main)


def test_error_statuses_and_retries() -> None:
    calls: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        calls.append(request.path)
        if request.path == "/flaky" and len(calls) == 1:
            return web.json_response({"kind": "Status", "reason": "ServiceUnavailable"}, status=503)
        if request.path == "/forbidden":
            return web.json_response(
                {"kind": "Status", "reason": "Forbidden", "message": "jobs is forbidden"}, status=403
            )
        return web.json_response({"ok": True})

    async def main() -> None:
        async with serving(handler) as api:
            assert await api.request("GET", "/flaky", what="GET x", retry_for=5) == {"ok": True}
            assert calls == ["/flaky", "/flaky"]  # a 503 is retried
            with pytest.raises(KubernetesApiError) as info:
                await api.request("GET", "/forbidden", what="GET x", retry_for=5)
            assert (info.value.status, info.value.reason, info.value.message) == (
                403,
                "Forbidden",
                "jobs is forbidden",
            )
            assert not is_transient(info.value) and calls.count("/forbidden") == 1

    run(main)


def test_streams_are_read_as_they_come() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "true":
            return web.json_response({"kind": "Status", "reason": "BadRequest"}, status=400)
        response = web.StreamResponse()
        await response.prepare(request)
        for number in range(3):
            await response.write(json.dumps({"type": "ADDED", "n": number}).encode() + b"\n")
        return response

    async def main() -> None:
        async with serving(handler) as api:
            async with api.stream(
                "/w", what="WATCH x", query=[("watch", "true")], read_timeout=5
            ) as response:
                lines = [json.loads(line) async for line in response.content]
            assert [line["n"] for line in lines] == [0, 1, 2]
            with pytest.raises(KubernetesApiError, match="400 BadRequest"):
                async with api.stream("/w", what="WATCH x"):
                    pass

    run(main)
