"""Ingest settings: where providers reach us, how phone numbers are read, how replies are retried."""

from pydantic import Field

from relay_kit.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    """The webhook receiver's public address, parsing defaults and outbound retry policy."""

    service_name: str = "ingest"
    http_port: int = 8101
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the public base URL providers call (the gateway); Twilio signs this URL + path + query, and "
                    "replies ask for their delivery reports here",
    )
    default_region: str = Field(default="US", description="region for phone numbers written without +country")
    max_body_bytes: int = Field(default=10_000_000, description="largest webhook body accepted (email attachments)")
    mailgun_max_skew_seconds: int = Field(default=900, description="Mailgun timestamps older or newer are refused")
    telnyx_max_skew_seconds: int = Field(default=300, ge=1,
                                         description="Telnyx webhook timestamps further from now are refused")
    outbound_group_id: str = Field(default="ingest", description="consumer group sending outbound messages")
    send_attempts: int = Field(default=5, ge=1, description="tries per outbound message on transient errors")
    send_backoff_seconds: float = Field(default=0.5, ge=0, description="first retry delay; doubles each try")
    send_timeout_seconds: float = Field(default=10.0, gt=0, description="per-request timeout to a provider")
