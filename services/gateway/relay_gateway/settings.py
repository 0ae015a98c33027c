"""Gateway settings: where each service listens and how sessions are kept."""

from relay_kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """The gateway's listener, the services it routes to, and session options."""

    service_name: str = "gateway"
    http_port: int = 8000
    ingest_url: str = "http://127.0.0.1:8101"
    issues_url: str = "http://127.0.0.1:8102"
    chat_url: str = "http://127.0.0.1:8103"
    notify_url: str = "http://127.0.0.1:8104"
    session_hours: int = 12
    secure_cookies: bool = False
    upstream_timeout_seconds: float = 15.0
