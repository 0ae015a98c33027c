"""A WebSocket client that keeps every JSON frame it is pushed, for tests and benchmarks that wait on pushes."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import websockets


class FrameCollector:
    """Receives a WebSocket's JSON frames, keeping them all, and waits for one that matches."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []

    async def next_matching(self, predicate: Callable[[dict[str, Any]], bool], *,
                            timeout: float = 15.0) -> dict[str, Any]:
        """The first frame, already received or arriving before the deadline, that matches."""
        for frame in self.frames:
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s; last frames: {self.frames[-6:]}")
            try:
                raw = await asyncio.wait_for(self.connection.recv(), timeout=remaining)
            except TimeoutError:
                continue
            frame = json.loads(raw)
            self.frames.append(frame)
            if predicate(frame):
                return frame
