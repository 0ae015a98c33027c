"""Routing of `/api/<area>/…` and provider webhooks to the service that owns them."""

import logging
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from relay_kit.auth import bearer_token
from relay_kit.errors import NotFound, Unavailable

log = logging.getLogger(__name__)
router = APIRouter()

# Which service answers which area of the API (its setting holds the address); `tenants` = providers' settings.
AREAS = {"issues": "issues_url", "chat": "chat_url", "customers": "ingest_url", "tenants": "ingest_url"}
FORWARDED_HEADERS = ("content-type", "accept", "x-correlation-id", "x-request-id")
WEBHOOK_DROPPED_HEADERS = {"host", "cookie", "connection", "content-length", "transfer-encoding", "keep-alive",
                           "upgrade", "te", "trailer", "proxy-authorization"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _client(request: Request) -> httpx.AsyncClient:
    return request.app.state.upstream


async def _forward(request: Request, *, base_url: str, service: str, headers: dict[str, str]) -> Response:
    url = f"{base_url}{request.url.path}"
    try:
        upstream = await _client(request).request(
            request.method, url, params=request.query_params, content=await request.body(), headers=headers,
        )
    except httpx.HTTPError as error:
        log.warning("%s did not answer %s %s: %r", service, request.method, request.url.path, error)
        raise Unavailable(f"The {service} service is not answering; try again shortly.") from None
    passed = {k: v for k, v in upstream.headers.items() if k.lower() in ("content-type", "retry-after", "location")}
    return Response(upstream.content, status_code=upstream.status_code, headers=passed)


@router.api_route("/api/{area}", methods=METHODS, include_in_schema=False)
@router.api_route("/api/{area}/{rest:path}", methods=METHODS, include_in_schema=False)
async def route_api(area: str, request: Request, rest: str = "") -> Response:
    """Pass a staff API call to the service that owns its area, with the session as a bearer token."""
    setting = AREAS.get(area)
    if setting is None:
        raise NotFound(f"There is no API area {area!r}.")
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
    token = bearer_token(request)
    if token:
        headers["authorization"] = f"Bearer {token}"
    service = setting.removesuffix("_url")
    return await _forward(request, base_url=getattr(request.app.state.settings, setting), service=service,
                          headers=headers)


@router.api_route("/webhooks/{rest:path}", methods=["POST", "GET"], include_in_schema=False)
async def route_webhook(rest: str, request: Request) -> Response:
    """Pass a provider's webhook, untouched (its signature covers it), to ingest."""
    headers: dict[str, Any] = {k: v for k, v in request.headers.items() if k.lower() not in WEBHOOK_DROPPED_HEADERS}
    client_host = request.client.host if request.client else ""
    headers["x-forwarded-for"] = client_host
    headers["x-forwarded-host"] = request.headers.get("host", "")
    return await _forward(request, base_url=request.app.state.settings.ingest_url, service="ingest", headers=headers)
