"""HTTP: tenant provisioning, the customer directory, reply templates, and the webhook routes of every provider."""

import csv
import io
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from relay_contracts.tenants import TENANT_ID_PATTERN
from relay_ingest import domain, flows, metrics, store
from relay_ingest.models import (
    Customer,
    CustomerIn,
    CustomerLine,
    CustomerLinkIn,
    CustomerList,
    CustomerNameIn,
    ImportReport,
    QuickReplies,
    ReplyTemplate,
    ReplyTemplateIn,
    ReplyTemplateList,
    Tenant,
    TenantSettings,
    TenantView,
)
from relay_ingest.providers.base import (
    BodyKind,
    Provider,
    ProviderMessage,
    ProviderStatus,
    UploadedFile,
    Webhook,
    WebhookAnswer,
    WebhookRejected,
    WebhookRequest,
)
from relay_ingest.settings import IngestSettings
from relay_kit.auth import AdminOnly, CurrentStaff, StaffPrincipal
from relay_kit.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, RelayError, error_body
from relay_kit.logs import tenant_id_var

TenantId = Annotated[str, Path(min_length=2, max_length=63, pattern=TENANT_ID_PATTERN)]
TenantOfCall = Annotated[str, Query(min_length=2, max_length=63, pattern=TENANT_ID_PATTERN,
                                    description="the tenant the customer belongs to")]
CustomerId = Annotated[str, Path(min_length=1, max_length=100, pattern=domain.CUSTOMER_ID_PATTERN)]
AttachmentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^att_[0-9a-f]{32}$")]
TemplateId = Annotated[str, Path(min_length=1, max_length=64, pattern=domain.TEMPLATE_ID_PATTERN)]

JSON_LINES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
              "application/jsonlines", "application/json-lines"}
CSV_TYPES = {"text/csv", "application/csv"}
CSV_CONTACT_COLUMNS = {"customer_id", "name", "phones", "phone", "emails", "email"}
MAX_FORM_FILES = 50
MAX_FORM_FIELDS = 1000


class UnsupportedMediaType(RelayError):
    status_code = 415
    code = "unsupported_media_type"


def _desk(request: Request) -> flows.Desk:
    return request.app.state.desk


async def _tenant_or_404(desk: flows.Desk, tenant_id: str) -> Tenant:
    tenant = await store.get_tenant(desk.database, tenant_id=tenant_id)
    if tenant is None:
        raise NotFound(f"No tenant {tenant_id!r} is set up in ingest: provision it with PUT /api/tenants/{tenant_id}.",
                       code="unknown_tenant")
    return tenant


# --- tenants --------------------------------------------------------------------------------------

tenants = APIRouter(tags=["provisioning"])


@tenants.put("/api/tenants/{tenant_id}", dependencies=[AdminOnly], response_model=TenantView)
async def save_tenant(tenant_id: TenantId, body: TenantSettings, request: Request) -> TenantView:
    """Create a tenant or replace its provider settings and provider choices (admin token); secrets are masked."""
    return (await flows.save_tenant(desk=_desk(request), tenant_id=tenant_id, settings=body)).view()


@tenants.get("/api/tenants/{tenant_id}", dependencies=[AdminOnly], response_model=TenantView)
async def get_tenant(tenant_id: TenantId, request: Request) -> TenantView:
    """A tenant's provider settings (admin token), secrets masked."""
    return (await _tenant_or_404(_desk(request), tenant_id)).view()


# --- customers ------------------------------------------------------------------------------------

customers = APIRouter(tags=["customers"])


@customers.put("/api/customers/{customer_id}", dependencies=[AdminOnly], response_model=Customer)
async def upsert_customer(customer_id: CustomerId, tenant_id: TenantOfCall, body: CustomerIn,
                          request: Request) -> Customer:
    """Create or replace a customer's record (admin token: the point-of-sale integration)."""
    desk = _desk(request)
    await _tenant_or_404(desk, tenant_id)
    return await flows.save_customer(desk=desk, tenant_id=tenant_id, customer_id=customer_id, customer=body)


@customers.post("/api/customers/import", dependencies=[AdminOnly], response_model=ImportReport,
                response_model_exclude_none=True,
                openapi_extra={"requestBody": {"required": True, "content": {
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}}}}})
async def import_customers(tenant_id: TenantOfCall, request: Request) -> ImportReport:
    """Bulk upsert from JSON lines or CSV (by content type); bad lines are reported, good ones applied."""
    desk = _desk(request)
    await _tenant_or_404(desk, tenant_id)
    media_type = _media_type(request)
    try:
        text = (await _read_body(request, max_bytes=desk.settings.max_body_bytes)).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("The import is not UTF-8 text.") from None
    if media_type in JSON_LINES:
        lines = _json_lines(text)
    elif media_type in CSV_TYPES:
        lines = _csv_lines(text)
    else:
        raise UnsupportedMediaType("Send the import as JSON lines (application/x-ndjson) or CSV (text/csv).")
    return await flows.import_customers(desk=desk, tenant_id=tenant_id, lines=lines)


def _line(number: int, raw: dict[str, Any]) -> tuple[int, CustomerLine | str]:
    try:
        return number, CustomerLine.model_validate(raw)
    except ValidationError as error:
        return number, "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}"
                                 for e in error.errors()[:5])


def _json_lines(text: str) -> list[tuple[int, CustomerLine | str]]:
    found: list[tuple[int, CustomerLine | str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            found.append((number, f"not JSON: {error.msg}"))
            continue
        found.append(_line(number, value) if isinstance(value, dict) else (number, "not a JSON object"))
    return found


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace("|", ";").split(";") if part.strip()]


def _csv_lines(text: str) -> list[tuple[int, CustomerLine | str]]:
    """Columns customer_id, name, phones, emails (several separated by ';'); any other column goes to account."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "customer_id" not in reader.fieldnames:
        raise BadRequest("The CSV needs a header row with at least customer_id and name.")
    found: list[tuple[int, CustomerLine | str]] = []
    for row in reader:
        number = reader.line_num
        if None in row:
            found.append((number, "more values than header columns"))
            continue
        account = {key.removeprefix("account."): value for key, value in row.items()
                   if key not in CSV_CONTACT_COLUMNS and value not in (None, "")}
        found.append(_line(number, {
            "customer_id": (row.get("customer_id") or "").strip(), "name": (row.get("name") or "").strip(),
            "phones": _split(row.get("phones")) + _split(row.get("phone")),
            "emails": _split(row.get("emails")) + _split(row.get("email")), "account": account,
        }))
    return found


@customers.get("/api/customers", response_model=CustomerList)
async def search_customers(staff: CurrentStaff, request: Request,
                           q: Annotated[str, Query(max_length=200)] = "") -> CustomerList:
    """My tenant's customers matching a name, email or phone number (all of them, by name, without q)."""
    found = await flows.search_customers(desk=_desk(request), tenant_id=staff.tenant_id, query=q.strip())
    return CustomerList(customers=found)


@customers.get("/api/customers/{customer_id}", response_model=Customer)
async def get_customer(customer_id: CustomerId, staff: CurrentStaff, request: Request) -> Customer:
    """One customer of my tenant, for View Customer."""
    return await flows.get_customer(desk=_desk(request), tenant_id=staff.tenant_id, customer_id=customer_id)


@customers.patch("/api/customers/{customer_id}", response_model=Customer)
async def name_customer(customer_id: CustomerId, body: CustomerNameIn, staff: CurrentStaff,
                        request: Request) -> Customer:
    """Give a contact the point of sale does not know a name (any staff member)."""
    return await flows.name_customer(desk=_desk(request), tenant_id=staff.tenant_id, customer_id=customer_id,
                                     name=body.name)


@customers.post("/api/customers/{customer_id}/link", response_model=Customer)
async def link_customer(customer_id: CustomerId, body: CustomerLinkIn, staff: CurrentStaff,
                        request: Request) -> Customer:
    """Link a contact the point of sale does not know to the customer it is (any staff member); answers that one."""
    return await flows.link_customer(desk=_desk(request), tenant_id=staff.tenant_id, customer_id=customer_id,
                                     into_customer_id=body.into_customer_id)


@customers.get("/api/customers/{customer_id}/quick-replies", response_model=QuickReplies)
async def quick_replies(customer_id: CustomerId, staff: CurrentStaff, request: Request) -> QuickReplies:
    """My tenant's reply templates filled in for this customer."""
    return await flows.quick_replies(desk=_desk(request), tenant_id=staff.tenant_id, customer_id=customer_id)


@customers.get("/api/customers/{customer_id}/attachments/{attachment_id}", response_class=Response,
               responses={200: {"content": {"application/octet-stream": {}, "image/*": {}},
                                "description": "the file as it came"}})
async def get_attachment(customer_id: CustomerId, attachment_id: AttachmentId, staff: CurrentStaff,
                         request: Request) -> Response:
    """A file that came with one of the customer's messages: an email attachment or an MMS picture."""
    found = await flows.attachment_file(desk=_desk(request), tenant_id=staff.tenant_id, customer_id=customer_id,
                                        attachment_id=attachment_id)
    media_type = domain.served_type(found.content_type)
    disposition = "inline" if domain.shown_inline(media_type) else "attachment"
    return Response(found.content, media_type=media_type,
                    headers={"content-disposition": _disposition(disposition, found.filename or attachment_id),
                             "cache-control": "private, max-age=86400", "x-content-type-options": "nosniff"})


def _disposition(kind: str, filename: str) -> str:
    """A Content-Disposition with an ASCII filename and, for any other name, its UTF-8 form (RFC 6266)."""
    printable = "".join(c for c in filename if c.isprintable() and c not in '"\\')
    fallback = printable.encode("ascii", "replace").decode().replace("?", "_") or "attachment"
    if fallback == printable:
        return f'{kind}; filename="{fallback}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(printable, safe='')}"


# --- reply templates ------------------------------------------------------------------------------

templates = APIRouter(tags=["reply templates"])


def _manager(staff: StaffPrincipal) -> StaffPrincipal:
    if not staff.is_manager:
        raise Forbidden("Only managers and admins can change reply templates.")
    return staff


@templates.get("/api/reply-templates", response_model=ReplyTemplateList)
async def list_templates(staff: CurrentStaff, request: Request) -> ReplyTemplateList:
    """My tenant's reply templates, by name (any staff member)."""
    return ReplyTemplateList(templates=await store.list_templates(_desk(request).database, tenant_id=staff.tenant_id))


@templates.put("/api/reply-templates/{template_id}", response_model=ReplyTemplate)
async def save_template(template_id: TemplateId, body: ReplyTemplateIn, staff: CurrentStaff,
                        request: Request) -> ReplyTemplate:
    """Create or replace a reply template (managers and admins)."""
    _manager(staff)
    return await flows.save_template(desk=_desk(request), tenant_id=staff.tenant_id, template_id=template_id,
                                     template=body, saved_by=staff.staff_id)


@templates.delete("/api/reply-templates/{template_id}", status_code=204, response_class=Response)
async def delete_template(template_id: TemplateId, staff: CurrentStaff, request: Request) -> Response:
    """Remove a reply template (managers and admins)."""
    _manager(staff)
    await flows.delete_template(desk=_desk(request), tenant_id=staff.tenant_id, template_id=template_id)
    return Response(status_code=204)


# --- webhooks -------------------------------------------------------------------------------------


async def _read_body(request: Request, *, max_bytes: int) -> bytes:
    """The whole body, refusing more than max_bytes even without a Content-Length."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"The body is larger than the {max_bytes} bytes accepted.")
    return bytes(body)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _form(request: Request, body: bytes, *, max_bytes: int) -> tuple[list[tuple[str, str]], list[UploadedFile]]:
    media_type = _media_type(request)
    if media_type == "application/x-www-form-urlencoded":
        try:
            return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS), []
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("The form body is not valid UTF-8 form encoding.") from None
    if media_type == "multipart/form-data":
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form(
                max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=max_bytes
            )
        except (MultiPartException, ValueError, KeyError) as error:
            raise BadRequest(f"The multipart body is malformed: {error}") from None
        fields: list[tuple[str, str]] = []
        files: list[UploadedFile] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append(UploadedFile(field=name, filename=value.filename,
                                          content_type=value.content_type or "application/octet-stream",
                                          content=await value.read()))
            else:
                fields.append((name, value))
        await form.close()
        return fields, files
    raise UnsupportedMediaType(
        "A webhook body must be a form (application/x-www-form-urlencoded or multipart/form-data).")


async def _webhook_request(request: Request, *, webhook: Webhook[Any], tenant_id: str, desk: flows.Desk,
                           received_at: datetime) -> WebhookRequest:
    """The webhook as the provider module reads it: the raw body, form fields and files for a form webhook."""
    max_bytes = desk.settings.max_body_bytes
    body = await _read_body(request, max_bytes=max_bytes)
    fields: list[tuple[str, str]] = []
    files: list[UploadedFile] = []
    if webhook.body == BodyKind.FORM:
        fields, files = await _form(request, body, max_bytes=max_bytes)
    elif _media_type(request) != "application/json":
        raise UnsupportedMediaType("This webhook's body must be JSON (application/json).")
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    public_url = desk.settings.public_url.rstrip("/") + path + (f"?{query}" if query else "")
    return WebhookRequest(tenant_id=tenant_id, public_url=public_url,
                          headers={k.lower(): v for k, v in request.headers.items()}, body=body, fields=fields,
                          files=files, received_at=received_at)


def _rejected(provider: str, error: WebhookRejected) -> JSONResponse:
    metrics.WEBHOOKS_REJECTED.labels(provider, error.reason).inc()
    headers = {"www-authenticate": error.challenge} if error.challenge else None
    return JSONResponse(error_body(error.code, error.message), status_code=401, headers=headers)


_REJECTION_REASONS = {"unknown_tenant": "unknown_tenant", "provider_not_configured": "provider_not_configured",
                      "payload_too_large": "too_large", "unsupported_media_type": "unsupported_media_type"}


async def _guarded(provider: str, tenant_id: str, work: Callable[[], Awaitable[Response]]) -> Response:
    """Run a webhook with the tenant in the logs, counting each refusal by provider and reason."""
    token = tenant_id_var.set(tenant_id)
    try:
        return await work()
    except WebhookRejected as error:
        return _rejected(provider, error)
    except RelayError as error:
        if error.status_code < 500:
            metrics.WEBHOOKS_REJECTED.labels(provider, _REJECTION_REASONS.get(error.code, "malformed")).inc()
        raise
    finally:
        tenant_id_var.reset(token)


def _webhook_route(provider: Provider[Any], webhook: Webhook[Any]) -> Callable[..., Awaitable[Response]]:
    async def receive_webhook(tenant_id: TenantId, request: Request) -> Response:
        received_at = datetime.now(UTC)
        desk = _desk(request)

        async def work() -> Response:
            tenant = await _tenant_or_404(desk, tenant_id)
            settings = tenant.settings.section(provider.name)
            if settings is None:
                raise NotFound(f"{provider.title} is not set up for tenant {tenant_id!r}.",
                               code="provider_not_configured")
            incoming = await _webhook_request(request, webhook=webhook, tenant_id=tenant_id, desk=desk,
                                              received_at=received_at)
            webhook.verify(incoming, settings=settings, now=received_at)
            try:
                read = webhook.read(incoming, region=desk.settings.default_region)
            except RecursionError:
                raise BadRequest("The webhook body nests too deeply to be read.") from None
            if isinstance(read, ProviderMessage):
                flows.check_fits(read)  # refused input leaves nothing behind, not even its delivery handle
            await flows.check_not_replayed(desk=desk, tenant_id=tenant_id, provider=provider.name,
                                           delivery=webhook.delivery_handle(incoming), received_at=received_at)
            receipt = None
            match read:
                case ProviderMessage() as message:
                    receipt = await flows.receive(desk=desk, tenant=tenant, message=message, received_at=received_at)
                case ProviderStatus() as report:
                    await flows.record_provider_status(desk=desk, tenant_id=tenant_id, report=report)
            answer = webhook.answer(receipt)
            return Response(answer.body, media_type=answer.media_type, status_code=answer.status_code)

        return await _guarded(provider.name, tenant_id, work)

    receive_webhook.__doc__ = (f"{webhook.summary}, for one tenant: answered 2xx only once the broker has what it "
                               "announces (503 otherwise, so the provider retries).")
    return receive_webhook


def _answer_class(media_type: str) -> type[Response]:
    """The response class that documents a webhook's answer type."""
    if media_type == JSONResponse.media_type:
        return JSONResponse
    return type(f"{media_type.replace('/', '_').title()}Response", (Response,), {"media_type": media_type})


def webhook_router(providers: Iterable[Provider[Any]], *, settings: IngestSettings) -> APIRouter:
    """`POST /webhooks/{tenant_id}/{provider}/{hook}` for every webhook of every registered provider."""
    router = APIRouter(tags=["webhooks"])
    for provider in providers:
        for webhook in provider.webhooks(settings):
            is_json = webhook.media_type == JSONResponse.media_type
            router.add_api_route(
                domain.webhook_path(tenant_id="{tenant_id}", provider=provider.name, hook=webhook.hook),
                _webhook_route(provider, webhook), methods=["POST"], name=f"{provider.name}_{webhook.hook}",
                status_code=200, response_class=_answer_class(webhook.media_type),
                response_model=WebhookAnswer if is_json else None, summary=webhook.summary,
                responses={} if is_json else {200: {"content": {webhook.media_type: {"schema": {"type": "string"}}},
                                                    "description": "the provider's markup (TwiML)"}},
            )
    return router
