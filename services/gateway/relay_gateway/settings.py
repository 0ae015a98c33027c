"""Gateway settings: where each service listens, how sessions are kept and how sign-in is throttled."""

from pydantic import Field

from relay_kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """The gateway's listener, the services it routes to, session and sign-in throttle options."""

    service_name: str = "gateway"
    http_port: int = 8000
    ingest_url: str = "http://127.0.0.1:8101"
    issues_url: str = "http://127.0.0.1:8102"
    chat_url: str = "http://127.0.0.1:8103"
    notify_url: str = "http://127.0.0.1:8104"
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the address browsers use; https turns on HSTS and Secure cookies, and /ws accepts this Origin",
    )
    consumer_group: str | None = Field(
        default=None, description="Kafka consumer group of the audit log's chat.events consumer; unset = gateway-audit")
    sandbox_url: str | None = Field(
        default=None, description="the embedded stack's provider sandbox (only `python -m relay_stack run` sets it): "
                                  "serves /sandbox, the page to play a customer; never set in production")
    session_hours: int = 12
    secure_cookies: bool = Field(default=False, description="mark the session cookie Secure (also when public_url "
                                                            "is https)")
    upstream_timeout_seconds: float = 15.0
    sign_in_free_failures_per_account: int = Field(
        default=5, ge=1, description="wrong passwords for one account before each further one must wait")
    sign_in_free_failures_per_address: int = Field(
        default=20, ge=1, description="wrong passwords from one client address before each further one must wait")
    sign_in_first_delay_seconds: float = Field(default=1.0, gt=0,
                                               description="the first wait; it doubles with every further failure")
    sign_in_longest_delay_seconds: float = Field(default=900.0, gt=0, description="the longest wait")
    sign_in_address_quiet_reset_seconds: float = Field(
        default=3600.0, gt=0, description="an address's failures are forgotten after this long without one")

    @property
    def cookies_secure(self) -> bool:
        """Whether the session cookie is marked Secure."""
        return self.secure_cookies or self.public_url.lower().startswith("https://")
