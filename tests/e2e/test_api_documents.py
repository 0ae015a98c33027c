"""Every service's OpenAPI and AsyncAPI documents, served through the gateway."""

import httpx
import pytest

from relay_stack.stack import Stack

SERVICES = ("ingest", "issues", "chat", "notify", "gateway")


@pytest.mark.parametrize("document", ["openapi", "asyncapi"])
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_answers_its_documents_through_the_gateway(relay: Stack, service: str, document: str) -> None:
    response = httpx.get(f"{relay.gateway_url}/api/docs/{service}/{document}.json", timeout=15)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body[document].startswith("3."), f"{document} 3 document"
    assert body["info"]["title"] == f"Relay {service}"
    if document == "openapi":
        assert isinstance(body["paths"], dict)
