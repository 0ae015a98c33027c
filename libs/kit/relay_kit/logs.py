"""Structured JSON logs carrying tenant, event and correlation ids from context, with secrets redacted."""

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

tenant_id_var: ContextVar[str | None] = ContextVar("tenant_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_CONTEXT = {"tenant_id": tenant_id_var, "event_id": event_id_var, "correlation_id": correlation_id_var}


_SECRET_IN_QUERY = re.compile(
    r"(?i)([?&;](?:token|access_token|id_token|jwt|session|auth|password|secret|signature|sig|api_key|key)=)"
    r"[^&\s\"'\\;]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """The text with query values that carry a secret (`?token=`…), JWTs and bearer tokens replaced."""
    text = _SECRET_IN_QUERY.sub(lambda m: m.group(1) + REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """A plain-text line, secrets redacted (see `redact`)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the ids of the work in hand; secrets redacted (see `redact`)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._line(record))

    def _line(self, record: logging.LogRecord) -> str:
        line = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in _CONTEXT.items():
            value = var.get()
            if value:
                line[name] = value
        for name in ("tenant_id", "event_id", "correlation_id", "topic"):
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(*, service: str, level: str = "INFO", as_json: bool = True) -> None:
    """Send every logger's records to stderr, as JSON lines unless told otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(RedactingFormatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "faststream", "uvicorn.access", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
