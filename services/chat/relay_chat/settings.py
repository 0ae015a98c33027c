"""Chat settings: its listener and the limits it enforces."""

from pydantic import Field

from relay_kit.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    """The chat service's listener and limits (environment variables RELAY_*)."""

    service_name: str = "chat"
    http_port: int = 8103
    consumer_group: str = Field(default="chat", min_length=1,
                                description="consumer group on staff.events; replicas sharing a database share it")
    max_private_group: int = 8
    max_page_size: int = 200
