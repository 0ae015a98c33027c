"""Notify settings: its listener, its replica id, where chat answers, and the bounds it keeps."""

import uuid

from pydantic import Field

from relay_kit.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    """Notify's settings (environment variables RELAY_*)."""

    service_name: str = "notify"
    http_port: int = 8104
    replica_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:8], min_length=1, max_length=60,
                            pattern=r"^[A-Za-z0-9._-]+$",
                            description="names this replica's consumer group notify-<replica id>; random if unset")
    chat_url: str = Field(default="http://127.0.0.1:8103", description="the chat service (unread counts, members)")
    chat_timeout_seconds: float = 5.0
    catchup_buffer_size: int = Field(default=1000, ge=10, description="recent events kept per tenant for ?since=")
    catchup_max_age_seconds: float = Field(default=1800.0, gt=0)
    typing_throttle_seconds: float = 3.0
    presence_heartbeat_seconds: float = 15.0
    presence_ttl_seconds: float = 45.0
    members_cache_seconds: float = 60.0
    send_queue_limit: int = Field(default=1000, ge=10, description="frames waiting for one slow tab before it is cut")
    consumer_session_timeout_ms: int = 10_000
