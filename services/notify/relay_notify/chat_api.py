"""What notify asks the chat service over its public HTTP API, always with the connected user's own token."""

import logging

import httpx
from pydantic import ValidationError

from relay_notify.models import ChatUnread

log = logging.getLogger(__name__)


class ChatApi:
    """Unread counts and conversation members, as chat answers them for that user (its rules apply)."""

    def __init__(self, *, base_url: str, timeout: float) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def unread(self, *, token: str) -> ChatUnread | None:
        """GET /api/chat/me/unread; None if chat does not answer (or not in the shape it documents)."""
        try:
            response = await self.client.get("/api/chat/me/unread", headers=_bearer(token))
        except httpx.HTTPError as error:
            log.warning("chat did not answer unread counts: %r", error)
            return None
        if response.status_code != 200:
            log.warning("chat refused unread counts: %s", response.status_code)
            return None
        try:
            return ChatUnread.model_validate_json(response.content)
        except ValidationError as error:
            log.warning("chat answered unread counts in an unknown shape: %s", error)
            return None

    async def members(self, *, token: str, conversation_id: str) -> set[str] | None:
        """GET /api/chat/conversations/{id}/members; None if the user may not see it or chat does not answer."""
        try:
            response = await self.client.get(f"/api/chat/conversations/{conversation_id}/members",
                                             headers=_bearer(token))
        except httpx.HTTPError as error:
            log.warning("chat did not answer members: %r", error)
            return None
        if response.status_code != 200:
            return None
        return {m["staff_id"] for m in response.json().get("members", [])}

    async def close(self) -> None:
        await self.client.aclose()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
