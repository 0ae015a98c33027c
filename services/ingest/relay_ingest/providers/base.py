"""The one interface every provider adapter fits: a new provider is one new module beside this one."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from relay_contracts.customer_messages import Channel
from relay_ingest.domain import InboundMessage, OutgoingMessage, ProviderStatus, Receipt, SendReceipt, UploadedFile
from relay_kit.errors import Unauthorized


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's webhook as it arrived, independent of the web framework."""

    tenant_id: str
    public_url: str  # the address the provider called (and signed): public base + path + query
    headers: dict[str, str]  # lower-cased names
    fields: list[tuple[str, str]]  # form fields in order (repeated names kept)
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


@dataclass(frozen=True)
class Answer:
    """What the provider gets back once its webhook is handled."""

    body: str
    media_type: str
    status_code: int = 200


class WebhookRejected(Unauthorized):
    """The webhook did not prove it came from the provider; `reason` labels the rejection metric."""

    def __init__(self, message: str, *, reason: str, challenge: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.challenge = challenge  # a WWW-Authenticate value, for basic-auth providers


@runtime_checkable
class InboundProvider(Protocol):
    """A provider that posts customers' messages to `/webhooks/{tenant}/{name}/{hook}`."""

    name: ClassVar[str]
    hook: ClassVar[str]
    channel: ClassVar[Channel]

    def verify(self, request: WebhookRequest, *, tenant: dict[str, Any], now: datetime) -> None:
        """Raise WebhookRejected unless the request is signed (or authenticated) for this tenant."""
        ...

    def parse(self, request: WebhookRequest, *, tenant: dict[str, Any], region: str) -> InboundMessage:
        """Read the message; raise BadRequest naming what is missing or malformed."""
        ...

    def answer(self, receipt: Receipt) -> Answer:
        """The body the provider expects back (TwiML for Twilio, a small JSON for email providers)."""
        ...


@runtime_checkable
class StatusProvider(Protocol):
    """A provider that reports on our outbound messages at `/webhooks/{tenant}/{name}/{hook}`."""

    name: ClassVar[str]
    hook: ClassVar[str]

    def verify(self, request: WebhookRequest, *, tenant: dict[str, Any], now: datetime) -> None:
        """Raise WebhookRejected unless the request is signed for this tenant."""
        ...

    def parse_status(self, request: WebhookRequest) -> ProviderStatus | None:
        """The reported state (None for states that change nothing we track)."""
        ...

    def answer(self) -> Answer:
        """The body the provider expects back."""
        ...


@runtime_checkable
class OutboundSender(Protocol):
    """Sends replies on one channel through one provider."""

    name: ClassVar[str]
    channel: ClassVar[Channel]

    def problem(self, tenant: dict[str, Any]) -> str | None:
        """Why this tenant cannot send on this channel (settings missing), or None."""
        ...

    async def send(self, message: OutgoingMessage, *, tenant: dict[str, Any]) -> SendReceipt:
        """Hand the message to the provider; raise TransientSendError or PermanentSendError."""
        ...


def provider_settings(tenant: dict[str, Any], section: str) -> dict[str, Any] | None:
    """One provider's settings of a tenant document, or None if it is not configured."""
    return (tenant.get("settings") or {}).get(section)
