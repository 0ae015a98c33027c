"""The services behind the gateway, over HTTP: one client, and one answer when a service does not answer."""

import logging
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import Response

from relay_gateway.settings import GatewaySettings
from relay_kit.errors import Unavailable

log = logging.getLogger(__name__)

PASSED_BACK_HEADERS = ("content-type", "retry-after", "location", "content-disposition", "cache-control")


class Refused(Exception):
    """A service refused a call the gateway made on its caller's behalf (4xx): the caller gets that answer as it is."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url} -> {response.status_code}")
        self.response = response


class Services:
    """Where each service listens, and the one HTTP client the gateway reaches them with."""

    def __init__(self, *, settings: GatewaySettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    def url(self, service: str) -> str:
        """The base address of a service (from its `RELAY_<SERVICE>_URL` setting)."""
        return getattr(self.settings, f"{service}_url")

    async def request(self, method: str, *, service: str, path: str, **options: Any) -> httpx.Response:
        """Call a service; Unavailable (503) when it does not answer at all."""
        try:
            return await self.client.request(method, f"{self.url(service)}{path}", **options)
        except httpx.HTTPError as error:
            log.warning("%s did not answer %s %s: %r", service, method, path, error)
            raise Unavailable(f"The {service} service is not answering; try again shortly.") from None

    async def as_admin(self, method: str, *, service: str, path: str, **options: Any) -> httpx.Response:
        """Call a service's provisioning API with the admin token: its 4xx raises Refused, a 5xx Unavailable."""
        headers = {"authorization": f"Bearer {self.settings.admin_token.get_secret_value()}"}
        response = await self.request(method, service=service, path=path, headers=headers, **options)
        if response.status_code >= 500:
            log.warning("%s answered %s %s with %s", service, method, path, response.status_code)
            raise Unavailable(f"The {service} service could not do this just now; try again shortly.")
        if response.status_code >= 400:
            raise Refused(response)
        return response

    async def close(self) -> None:
        """Close the client (at shutdown)."""
        await self.client.aclose()


def services_of(request: Request) -> Services:
    """The gateway's `Services` (a route dependency)."""
    return request.app.state.services


def passed_back(response: httpx.Response) -> Response:
    """A service's answer, as the gateway's answer."""
    headers = {k: v for k, v in response.headers.items() if k.lower() in PASSED_BACK_HEADERS}
    return Response(response.content, status_code=response.status_code, headers=headers)


async def answer_refused(_: Request, refused: Refused) -> Response:
    """The exception handler that gives the caller a service's refusal unchanged."""
    return passed_back(refused.response)
