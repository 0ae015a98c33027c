"""The kit's log lines redact secrets wherever they come from (uvicorn's WebSocket line, an error with a URL)."""

import io
import json
import logging

import pytest

from relay_kit.logs import JsonFormatter, RedactingFormatter, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdGZfMSJ9.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize("line", [
    f'127.0.0.1:5123 - "WebSocket /ws?token={JWT}&since=42" [accepted]',
    f"GET /api/issues?since=1&Token={JWT}",
    f"calling with Authorization: Bearer {JWT}",
    f"an error naming {JWT} in passing",
    "GET /x?access_token=opaque-secret-value",
])
def test_a_secret_is_redacted_and_the_rest_of_the_line_kept(line: str) -> None:
    redacted = redact(line)
    assert JWT not in redacted and "opaque-secret-value" not in redacted
    assert "[redacted]" in redacted
    assert redacted.split(" ")[0] == line.split(" ")[0]


def test_both_log_formats_redact_messages_their_arguments_and_tracebacks() -> None:
    for formatter in (JsonFormatter("gateway"), RedactingFormatter("%(message)s")):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger = logging.getLogger(f"redaction-{id(formatter)}")
        logger.addHandler(handler)
        logger.propagate = False
        logger.warning("%s - %s", "WebSocket", f"/ws?token={JWT}")
        try:
            raise ValueError(f"bad url /ws?token={JWT}")
        except ValueError:
            logger.exception("failed")
        text = stream.getvalue()
        assert JWT not in text
        if isinstance(formatter, JsonFormatter):
            assert all(json.loads(line) for line in text.splitlines() if line.startswith("{"))
