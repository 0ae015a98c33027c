"""Keeping the embedded stack up: a process that dies is started again, the same way, with back-off.

The supervisor watches every service process of a `Stack` (and its embedded broker) from a thread of its own.
A process that exits without being asked to is restarted with the same settings and port after a delay that
doubles with each quick failure (`RELAY_RESTART_BACKOFF_SECONDS`, up to `RELAY_RESTART_BACKOFF_MAX_SECONDS`),
and the restart is reported on the console: what died, its exit code, when it is back.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from relay_stack.processes import ready_timeout

log = logging.getLogger(__name__)

BACKOFF_ENV = "RELAY_RESTART_BACKOFF_SECONDS"
BACKOFF_MAX_ENV = "RELAY_RESTART_BACKOFF_MAX_SECONDS"
DEFAULT_BACKOFF_SECONDS = 0.5
DEFAULT_BACKOFF_MAX_SECONDS = 30.0
STABLE_AFTER_SECONDS = 30.0  # a process up this long has its back-off reset
WATCH_INTERVAL_SECONDS = 0.2


def _seconds(env: str, default: float) -> float:
    value = os.environ.get(env)
    try:
        return float(value) if value else default
    except ValueError as error:
        raise ValueError(f"{env} must be a number of seconds, not {value!r}") from error


class Supervised(Protocol):
    """What the supervisor needs of a process: `ServiceProcess` and `EmbeddedBroker` both are."""

    generation: int

    @property
    def running(self) -> bool: ...

    def kill(self) -> None: ...


@dataclass
class Watched:
    """One supervised process and its restart history."""

    name: str
    process: Supervised
    restart: Callable[[], None]  # starts it again and returns once it is ready (or raises)
    restarts: int = 0
    failures_in_a_row: int = 0
    up_since: float = field(default_factory=time.monotonic)
    ready_generation: int = 0  # the process's generation the last time it was started and found ready
    last_recovery_seconds: float | None = None
    recovery_seconds: list[float] = field(default_factory=list)


class Supervisor:
    """Restarts what dies, one thread for all, until `stop`."""

    def __init__(self, *, backoff: float | None = None, backoff_max: float | None = None,
                 report: Callable[[str], None] | None = None) -> None:
        self.backoff = _seconds(BACKOFF_ENV, DEFAULT_BACKOFF_SECONDS) if backoff is None else backoff
        self.backoff_max = _seconds(BACKOFF_MAX_ENV, DEFAULT_BACKOFF_MAX_SECONDS) if backoff_max is None else backoff_max
        self.report = report or (lambda line: print(line, flush=True))
        self.watched: dict[str, Watched] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, name: str, process: Supervised, restart: Callable[[], None]) -> None:
        """Supervise `process` (already started); `restart` starts it again the same way and waits until ready."""
        with self._lock:
            self.watched[name] = Watched(name=name, process=process, restart=restart,
                                         ready_generation=process.generation)

    def forget(self, name: str) -> None:
        """Stop supervising one process (before stopping it on purpose)."""
        with self._lock:
            self.watched.pop(name, None)

    def start(self) -> "Supervisor":
        self._thread = threading.Thread(target=self._run, name="relay-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop restarting anything (call before stopping the processes on purpose)."""
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=ready_timeout() + 10)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _run(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL_SECONDS):
            with self._lock:
                watched = list(self.watched.values())
            for item in watched:
                if self._stopping.is_set():
                    return
                if not item.process.running:
                    self._bring_back(item)
                elif item.failures_in_a_row and time.monotonic() - item.up_since > STABLE_AFTER_SECONDS:
                    item.failures_in_a_row = 0

    def _bring_back(self, item: Watched) -> None:
        down_since = time.monotonic()
        code = getattr(getattr(item.process, "process", None), "returncode", None)
        delay = min(self.backoff_max, self.backoff * (2 ** item.failures_in_a_row))
        self.report(f"[supervisor] {item.name} exited (code {code}); restarting in {delay:.1f}s "
                    f"(restart {item.restarts + 1})")
        if self._stopping.wait(delay):
            return
        try:
            item.restart()
        except Exception as error:  # not ready: kill what was started and try again, waiting longer
            item.process.kill()
            item.failures_in_a_row += 1
            self.report(f"[supervisor] {item.name} did not come back: {error}")
            return
        item.restarts += 1
        item.ready_generation = item.process.generation
        item.failures_in_a_row += 1
        item.up_since = time.monotonic()
        item.last_recovery_seconds = item.up_since - down_since
        item.recovery_seconds.append(item.last_recovery_seconds)
        self.report(f"[supervisor] {item.name} is back after {item.last_recovery_seconds:.1f}s")
