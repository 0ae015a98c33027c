"""Settings every service shares, read from environment variables (pydantic-settings)."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Broker, database, HTTP listener and token secret; each service subclasses this."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore")

    service_name: str = "relay"
    http_host: str = "127.0.0.1"
    http_port: int = 8100
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="Kafka bootstrap servers, comma-separated",
    )
    mongodb_uri: str | None = Field(
        default=None,
        validation_alias="MONGODB_URI",
        description="MongoDB connection string; unset = in-process stand-in (kept in `data_dir` when that is set)",
    )
    data_dir: Path | None = Field(
        default=None,
        description="the service's OWN data folder for the stand-in (e.g. .relay/data/issues): every write journaled "
                    "and fsynced there, reloaded at start; unset = data kept in this process only. Ignored with "
                    "MONGODB_URI",
    )
    data_compact_bytes: int = Field(
        default=1024 * 1024, gt=0,
        description="journal size past which the data folder is compacted into a new snapshot (it also is at start): "
                    "replay at start costs about what the writes cost, a compaction about 20 µs per stored document",
    )
    mongodb_database: str | None = Field(
        default=None, description="database name; defaults to relay_<service>"
    )
    jwt_secret: SecretStr = Field(
        default=SecretStr("relay-dev-secret-change-me-in-production"),
        description="HMAC key for staff session tokens, shared by the gateway and the services",
    )
    admin_token: SecretStr = Field(
        default=SecretStr("relay-dev-admin-token"),
        description="bearer token for provisioning APIs (tenants, staff, customer import)",
    )
    log_level: str = "INFO"
    log_json: bool = True
    outbox_sweep_seconds: float = 1.0
    consumer_max_attempts: int = Field(
        default=5, ge=1,
        description="times in a row a consumer's handler may fail on one event before it is set aside on the "
                    "topic's dead-letter topic with the reason (so it never blocks the events behind it)",
    )
    publish_timeout_seconds: float = Field(
        default=5.0, gt=0,
        description="longest a change waits for the broker to take its events before the caller's policy applies "
                    "(a webhook answers 503, a staff action succeeds and leaves them to the sweeper)",
    )
    consumer_fetch_max_wait_ms: int = Field(
        default=10, ge=1,
        description="longest a consumer's fetch waits for data: the embedded broker answers a fetch only when this "
        "runs out, so it bounds each hop's latency there; a real Kafka answers as soon as data arrives (500 is fine)",
    )
    consumer_lag_refresh_seconds: float = Field(default=5.0, gt=0, description="how often consumer lag is measured")
    max_body_bytes: int = 1_000_000

    @field_validator("data_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def database_name(self) -> str:
        """The service's own database: nobody else reads it."""
        return self.mongodb_database or f"relay_{self.service_name}"
