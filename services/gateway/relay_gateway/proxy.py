"""Routing of `/api/<area>/…`, provider webhooks and every service's API documents to the service that owns them."""

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request, Response

from relay_gateway.access import signed_in
from relay_gateway.models import ApiDocument
from relay_gateway.upstream import passed_back, services_of
from relay_kit.auth import bearer_token, is_admin_token
from relay_kit.errors import NotFound, Unavailable

router = APIRouter()

# Which service answers which area of the staff API. Tenants are provisioned on the gateway's admin API only.
AREAS = {"issues": "issues", "chat": "chat", "customers": "ingest", "reply-templates": "ingest"}
FORWARDED_HEADERS = ("content-type", "accept", "x-correlation-id", "x-request-id")
WEBHOOK_DROPPED_HEADERS = {"host", "cookie", "connection", "content-length", "transfer-encoding", "keep-alive",
                           "upgrade", "te", "trailer", "proxy-authorization"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class DocumentedService(StrEnum):
    """A Relay service whose API documents the gateway serves."""

    INGEST = "ingest"
    ISSUES = "issues"
    CHAT = "chat"
    NOTIFY = "notify"
    GATEWAY = "gateway"


class ApiDocumentKind(StrEnum):
    """FastAPI's OpenAPI document of a service's HTTP API, or FastStream's AsyncAPI document of its topics."""

    OPENAPI = "openapi.json"
    ASYNCAPI = "asyncapi.json"


async def _forward(request: Request, *, service: str, headers: dict[str, str]) -> Response:
    upstream = await services_of(request).request(
        request.method, service=service, path=request.url.path, params=request.query_params,
        content=await request.body(), headers=headers,
    )
    return passed_back(upstream)


@router.get("/api/docs/{service}/{document}", response_model=ApiDocument, tags=["docs"])
async def api_document(service: DocumentedService, document: ApiDocumentKind, request: Request) -> ApiDocument:
    """A service's OpenAPI or AsyncAPI document, as the service serves it (no session needed: read-only)."""
    if service is DocumentedService.GATEWAY:
        if document is ApiDocumentKind.OPENAPI:
            return ApiDocument(request.app.openapi())
        return ApiDocument(request.app.state.runtime.asyncapi(title=request.app.title))
    answer = await services_of(request).request("GET", service=service.value, path=f"/{document.value}")
    if answer.status_code != 200:
        raise Unavailable(f"The {service.value} service did not serve its {document.value}; try again shortly.")
    return ApiDocument(answer.json())


@router.api_route("/api/{area}", methods=METHODS, include_in_schema=False)
@router.api_route("/api/{area}/{rest:path}", methods=METHODS, include_in_schema=False)
async def route_api(area: str, request: Request, rest: str = "") -> Response:
    """Pass a staff API call to the service that owns its area, with the session as a bearer token.

    The call goes on only with the admin token (provisioning) or a token whose session is still open here.
    """
    service = AREAS.get(area)
    if service is None:
        raise NotFound(f"There is no API area {area!r}.")
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
    token = bearer_token(request)
    if not is_admin_token(token, expected=request.app.state.settings.admin_token.get_secret_value()):
        await signed_in(request, token or "")
    headers["authorization"] = f"Bearer {token}"
    return await _forward(request, service=service, headers=headers)


@router.api_route("/webhooks/{rest:path}", methods=["POST", "GET"], include_in_schema=False)
async def route_webhook(rest: str, request: Request) -> Response:
    """Pass a provider's webhook, untouched (its signature covers it), to ingest."""
    headers: dict[str, Any] = {k: v for k, v in request.headers.items() if k.lower() not in WEBHOOK_DROPPED_HEADERS}
    client_host = request.client.host if request.client else ""
    headers["x-forwarded-for"] = client_host
    headers["x-forwarded-host"] = request.headers.get("host", "")
    return await _forward(request, service="ingest", headers=headers)
