"""What every provider module fits: its registration, its webhooks, its sender, and the values they exchange.

A provider is one module beside this one that defines a `PROVIDER = Provider(...)`: the tenant's settings
section for it, the webhooks it posts (routes are generated from them), and the sender of replies if it sends.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, Protocol, TypeVar

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from relay_contracts.customer_messages import Attachment, Channel, DeliveryState, EmailThreading
from relay_ingest import domain
from relay_kit.errors import BadRequest, Unauthorized

if TYPE_CHECKING:
    from relay_ingest.settings import IngestSettings

Secret = Annotated[str, PlainSerializer(domain.masked, when_used="json")]
"""A provider secret: stored as it is, shown back masked in every JSON answer."""


# --- a tenant's settings for one provider ---------------------------------------------------------


class ProviderSettings(BaseModel):
    """One provider's section of a tenant's settings."""

    model_config = ConfigDict(extra="forbid")


class SmsSettings(ProviderSettings):
    """An SMS provider's section: the tenant's own number there (normalised to E.164 when saved)."""

    phone_number: str = Field(min_length=3, max_length=32)


class EmailSenderSettings(ProviderSettings):
    """An email sender's section: the address replies come from."""

    from_address: str = Field(min_length=3, max_length=254)
    from_name: str | None = Field(default=None, max_length=200)

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return domain.normalise_email(value)


ApiBaseUrl = Annotated[str, Field(pattern=r"^https?://[^\s]+$", description="the provider's API (a fake in tests)"),
                      AfterValidator(lambda url: url.rstrip("/"))]
"""Where a provider's HTTP API is, kept without a trailing slash."""


# --- what webhooks bring in -----------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file that came in a webhook body (email attachments)."""

    field: str
    filename: str | None
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Bounce:
    """A delivery-status notification: which of our messages it refers to, and why it failed."""

    referenced_message_ids: list[str]
    reason: str
    status_code: str | None = None


@dataclass(frozen=True)
class ProviderMessage:
    """A customer's message as a provider module read it, before it is recorded."""

    provider: str
    channel: Channel
    provider_message_id: str
    from_address: str
    to_address: str
    text: str
    from_name: str | None = None
    subject: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)
    threading: EmailThreading | None = None
    bounce: Bounce | None = None


@dataclass(frozen=True)
class ProviderStatus:
    """A provider's report on one of our outbound messages (a status callback or delivery receipt)."""

    provider: str
    provider_message_id: str
    status: DeliveryState
    error_code: str | None = None
    reason: str | None = None


class InboundOutcome(StrEnum):
    """What recording an inbound message amounted to."""

    MESSAGE = "message"
    KEYWORD = "keyword"
    BOUNCE = "bounce"


@dataclass(frozen=True)
class Receipt:
    """What ingest did with a provider's message, for the provider's answer."""

    outcome: InboundOutcome
    message_id: str
    duplicate: bool = False
    reply: str | None = None


class BodyKind(StrEnum):
    """How a provider encodes its webhook bodies."""

    FORM = "form"  # application/x-www-form-urlencoded or multipart/form-data
    JSON = "json"


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's webhook as it arrived, independent of the web framework."""

    tenant_id: str
    public_url: str  # the address the provider called (and signed): public base + path + query
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""  # exactly as received (JSON webhooks are signed over these bytes)
    fields: list[tuple[str, str]] = field(default_factory=list)  # form fields in order (repeated names kept)
    files: list[UploadedFile] = field(default_factory=list)
    received_at: datetime | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of a form field."""
        for key, value in self.fields:
            if key == name:
                return value
        return default

    def form(self) -> dict[str, str]:
        """Form fields as a dict (first value wins)."""
        found: dict[str, str] = {}
        for key, value in self.fields:
            found.setdefault(key, value)
        return found


class WebhookAnswer(BaseModel):
    """The JSON answer to a provider that takes JSON: whether the message was new, and ingest's id for it."""

    status: Literal["accepted", "duplicate"]
    message_id: str | None = Field(default=None, description="ingest's id of the message (none for receipts)")


@dataclass(frozen=True)
class Answer:
    """What the provider gets back once its webhook is handled."""

    body: str
    media_type: str
    status_code: int = 200

    @classmethod
    def json(cls, receipt: Receipt | None) -> "Answer":
        """`{"status": "accepted"|"duplicate", "message_id": …}` (no id for a delivery receipt)."""
        answer = WebhookAnswer(status="duplicate" if receipt and receipt.duplicate else "accepted",
                               message_id=receipt.message_id if receipt else None)
        return cls(body=answer.model_dump_json(exclude_none=True), media_type="application/json")


@dataclass(frozen=True)
class DeliveryHandle:
    """What tells a provider's retry from a replay: a handle it sends once per delivery, and a digest of the content.

    The same handle with the same content is the provider trying again (answered as before); the same handle with
    other content is a captured signature reused on another body, refused. Ingest keeps each handle `keep_for`, at
    least as long as the provider's signature stays fresh.
    """

    handle: str
    fingerprint: str
    keep_for: timedelta


def fingerprint(*parts: bytes | str) -> str:
    """A SHA-256 digest of content, each part length-prefixed so no two sequences of parts collide."""
    digest = hashlib.sha256()
    for part in parts:
        raw = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(raw).to_bytes(8, "big") + raw)
    return digest.hexdigest()


def form_fingerprint(request: "WebhookRequest", *, ignore: frozenset[str] = frozenset()) -> str:
    """A digest of a form webhook's fields and files, independent of how the body was framed (multipart boundary)."""
    parts: list[bytes | str] = []
    for name, value in sorted(request.fields):
        if name not in ignore:
            parts += [name, value]
    for upload in sorted(request.files, key=lambda f: (f.field, f.filename or "")):
        parts += [upload.field, upload.filename or "", upload.content_type, hashlib.sha256(upload.content).digest()]
    return fingerprint(*parts)


def json_value(raw: str | bytes, *, what: str) -> Any:
    """A JSON document a provider sent; BadRequest (never a 500) when it is not JSON or nests too deeply."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(f"{what} is not JSON.") from None
    except RecursionError:
        raise BadRequest(f"{what} nests too deeply to be read.") from None


class WebhookRejected(Unauthorized):
    """The webhook did not prove it came from the provider; `reason` labels the rejection metric."""

    def __init__(self, message: str, *, reason: str, challenge: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.challenge = challenge  # a WWW-Authenticate value, for basic-auth providers


S = TypeVar("S", bound=ProviderSettings)
S_contra = TypeVar("S_contra", bound=ProviderSettings, contravariant=True)


class Webhook(Protocol[S_contra]):
    """One URL a provider posts to: `/webhooks/{tenant}/{provider}/{hook}`."""

    hook: str
    body: BodyKind
    media_type: str  # of the answer
    summary: str  # what the provider posts here, for the OpenAPI document

    def verify(self, request: WebhookRequest, *, settings: S_contra, now: datetime) -> None:
        """Raise WebhookRejected unless the request is signed (or authenticated) with the tenant's settings."""
        ...

    def read(self, request: WebhookRequest, *, region: str) -> ProviderMessage | ProviderStatus | None:
        """A customer's message, a report on ours, or None (nothing we track); BadRequest if malformed."""
        ...

    def answer(self, receipt: Receipt | None) -> Answer:
        """The body the provider expects back (None: it was not a customer's message)."""
        ...

    def delivery_handle(self, request: WebhookRequest) -> DeliveryHandle | None:
        """The provider's once-per-delivery handle of a verified request, or None where it gives none."""
        ...


# --- what goes out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMessage:
    """A reply ready for a provider: addressed, threaded, with where the provider reports back."""

    tenant_id: str
    outbound_id: str
    channel: Channel
    to_address: str
    text: str
    business: str  # the tenant's name (an email's From name when the sender has none)
    subject: str | None = None
    email_message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    status_callback_url: str | None = None


@dataclass(frozen=True)
class SendReceipt:
    """What the provider answered when it accepted a message."""

    provider: str
    provider_message_id: str
    provider_status: str | None = None


class SendError(Exception):
    """Sending an outbound message did not work."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientSendError(SendError):
    """Worth trying again: a 5xx, a 429, a timeout, a refused connection, a 4xx SMTP answer."""


class PermanentSendError(SendError):
    """Trying again will not help: the provider refused the message itself (`refused`: the customer opted out)."""

    def __init__(self, reason: str, *, code: str | None = None, refused: bool = False) -> None:
        super().__init__(reason, code=code)
        self.refused = refused


class Sender(Protocol[S_contra]):
    """Hands replies to one provider with the tenant's settings for it."""

    async def send(self, message: OutgoingMessage, *, settings: S_contra) -> SendReceipt:
        """Send once; raise TransientSendError (worth retrying) or PermanentSendError."""
        ...


@dataclass(frozen=True)
class SenderContext:
    """What senders share: one HTTP client and the per-request timeout."""

    client: httpx.AsyncClient
    timeout: float


async def post_to_api(context: SenderContext, *, title: str, url: str, **request: Any) -> httpx.Response:
    """POST to a provider's HTTP API; no answer, a 429 or a 5xx is a TransientSendError (worth retrying)."""
    try:
        response = await context.client.post(url, timeout=context.timeout, **request)
    except httpx.TimeoutException:
        raise TransientSendError(f"{title} did not answer in time.") from None
    except httpx.TransportError as error:
        raise TransientSendError(f"Could not reach {title}: {type(error).__name__}.") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(f"{title} answered {response.status_code}.")
    return response


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A provider's JSON answer as an object ({} when it is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- pictures kept at the provider ---------------------------------------------------------------


class MediaUnavailable(Exception):
    """A provider's media file could not be fetched (`gone`: the provider says it no longer has it)."""

    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


@dataclass(frozen=True)
class FetchedMedia:
    """A media file as its provider served it."""

    content: bytes
    content_type: str | None


class MediaFetcher:
    """Fetches the media a provider keeps for an MMS (its URL came in the signed webhook).

    Providers whose media URLs need the tenant's credentials override `credentials`.
    """

    title = "The provider"

    def __init__(self, context: SenderContext) -> None:
        self.context = context

    def credentials(self, url: str, *, settings: Any) -> tuple[str, str] | None:
        """HTTP basic credentials for this URL, or None (the URL itself grants access)."""
        return None

    async def fetch(self, url: str, *, settings: Any, max_bytes: int) -> FetchedMedia:
        """The file at `url`, at most `max_bytes`; MediaUnavailable when it cannot be had."""
        try:
            scheme = httpx.URL(url).scheme
        except (httpx.InvalidURL, TypeError, ValueError):
            scheme = ""
        if scheme not in ("http", "https"):
            raise MediaUnavailable(f"{url[:200]!r} is not an http(s) address.", gone=True)
        auth = self.credentials(url, settings=settings)
        try:
            async with self.context.client.stream("GET", url, auth=auth, follow_redirects=True,
                                                  timeout=self.context.timeout) as response:
                if response.status_code in (404, 410):
                    raise MediaUnavailable(f"{self.title} no longer has this file ({response.status_code}).",
                                           gone=True)
                if not response.is_success:
                    raise MediaUnavailable(f"{self.title} answered {response.status_code} for the file.")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise MediaUnavailable(f"The file is larger than the {max_bytes} bytes accepted.", gone=True)
                content_type = response.headers.get("content-type")
        except httpx.TimeoutException:
            raise MediaUnavailable(f"{self.title} did not send the file in time.") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise MediaUnavailable(f"{url[:200]!r} is not an address a file can be fetched from.", gone=True) from None
        except (httpx.TransportError, httpx.TooManyRedirects) as error:
            raise MediaUnavailable(f"Could not fetch the file from {self.title}: {type(error).__name__}.") from None
        return FetchedMedia(content=bytes(body), content_type=content_type.split(";")[0].strip() if content_type
                            else None)


def same_origin(url: str, base_url: str) -> bool:
    """Whether two addresses share scheme, host and port (credentials for one are never sent to another)."""
    try:
        a, b = httpx.URL(url), httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


# --- the registration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider(Generic[S]):
    """A provider as ingest knows it: registered once in `relay_ingest.providers.PROVIDERS`."""

    name: str  # in webhook URLs, metrics and a tenant's provider choice
    title: str  # for people
    channel: Channel
    settings: type[S]  # the tenant's section for it
    section: str = ""  # the section's key in a tenant's settings (default: the name)
    webhooks: Callable[["IngestSettings"], Sequence[Webhook[S]]] = lambda _: ()
    sender: Callable[[SenderContext], Sender[S]] | None = None
    status_hook: str | None = None  # the hook its delivery reports for our replies come to
    media: Callable[[SenderContext], MediaFetcher] | None = None  # fetches MMS media it keeps, if it keeps any

    @property
    def key(self) -> str:
        """The key of its section in a tenant's settings."""
        return self.section or self.name
