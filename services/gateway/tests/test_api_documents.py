"""Every service's OpenAPI and AsyncAPI documents through the gateway, and every gateway route declaring its answer."""

import httpx
import pytest

from relay_stack.processes import ServiceProcess


@pytest.mark.parametrize("document, version_field", [("openapi.json", "openapi"), ("asyncapi.json", "asyncapi")])
def test_the_gateway_serves_its_own_documents_to_anyone(gateway: ServiceProcess, document: str,
                                                        version_field: str) -> None:
    response = httpx.get(f"{gateway.url}/api/docs/gateway/{document}")
    assert response.status_code == 200, response.text
    assert version_field in response.json()


def test_a_services_documents_are_passed_on_as_it_serves_them(gateway: ServiceProcess, fake_ingest) -> None:
    for document, version_field in (("openapi.json", "openapi"), ("asyncapi.json", "asyncapi")):
        response = httpx.get(f"{gateway.url}/api/docs/ingest/{document}")
        assert response.status_code == 200, response.text
        assert response.json() == {version_field: "3.0.0", "info": {"title": "Relay ingest"}}


def test_a_service_that_is_down_or_unknown_has_no_document(gateway: ServiceProcess) -> None:
    down = httpx.get(f"{gateway.url}/api/docs/issues/openapi.json")
    assert down.status_code == 503
    assert down.json()["error"]["message"] == "The issues service is not answering; try again shortly."
    assert httpx.get(f"{gateway.url}/api/docs/billing/openapi.json").status_code == 422
    assert httpx.get(f"{gateway.url}/api/docs/issues/swagger.yaml").status_code == 422


def test_every_gateway_route_declares_its_answer(gateway: ServiceProcess) -> None:
    paths = httpx.get(f"{gateway.url}/api/docs/gateway/openapi.json").json()["paths"]
    assert {"/api/session", "/api/staff", "/api/admin/tenants/{tenant_id}",
            "/api/admin/tenants/{tenant_id}/staff/{username}", "/api/docs/{service}/{document}"} <= set(paths)
    for path, operations in paths.items():
        for method, operation in operations.items():
            success = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
            assert success, f"{method.upper()} {path} declares no success answer"
            for code, answer in success.items():
                assert code == "204" or answer["content"]["application/json"]["schema"], f"{method.upper()} {path}"
