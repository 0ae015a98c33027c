"""Issues settings: the shared service settings plus the consumer group and the metrics refresh."""

from pydantic import Field
from relay_kit.settings import ServiceSettings


class IssuesSettings(ServiceSettings):
    """The issues service's listener, consumer group and how often its gauges are read from the store."""

    service_name: str = "issues"
    http_port: int = 8102
    consumer_group: str = Field(default="issues", description="Kafka consumer group for every topic consumed")
    metrics_refresh_seconds: float = Field(
        default=15.0, gt=0, description="how often the open-issue gauges are refreshed from the store"
    )
