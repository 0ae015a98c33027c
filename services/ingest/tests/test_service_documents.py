"""What ingest documents: a webhook route for every registered provider, a declared answer on every route,
and the topics it consumes and publishes."""

import httpx

from relay_ingest.providers import PROVIDERS
from relay_ingest.settings import IngestSettings


def test_every_registered_provider_webhook_is_a_documented_route(ingest) -> None:
    paths = httpx.get(f"{ingest.url}/openapi.json").json()["paths"]
    registered = {f"/webhooks/{{tenant_id}}/{provider.name}/{webhook.hook}": webhook.media_type
                  for provider in PROVIDERS.values() for webhook in provider.webhooks(IngestSettings())}
    assert "/webhooks/{tenant_id}/telnyx/sms" in registered and "/webhooks/{tenant_id}/twilio/status" in registered
    assert {p for p in paths if p.startswith("/webhooks/")} == set(registered)
    for path, media_type in registered.items():
        assert media_type in paths[path]["post"]["responses"]["200"]["content"], path


def test_every_route_declares_what_it_answers(ingest) -> None:
    paths = httpx.get(f"{ingest.url}/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            answers = {status: answer for status, answer in operation["responses"].items() if status in ("200", "204")}
            assert answers, f"{method} {path} declares no answer"
            if "200" in answers:
                content = answers["200"]["content"]
                assert all(c.get("schema") or media != "application/json" for media, c in content.items()), path
                json_schema = content.get("application/json", {}).get("schema")
                assert json_schema is None or json_schema.get("$ref"), f"{method} {path} answers an undeclared shape"


def test_the_asyncapi_document_names_what_ingest_consumes_and_publishes(ingest) -> None:
    document = httpx.get(f"{ingest.url}/asyncapi.json").json()
    by_address = {channel["address"]: channel.get("description", "") for channel in document["channels"].values()}
    assert "OutboundMessageRequested" in by_address["outbound.messages"]
    assert "InboundMessageReceived" in by_address["inbound.messages"]
    assert "DeliveryStatusChanged" in by_address["delivery.status"]
