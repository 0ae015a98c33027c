"""Services as separate processes, started with their settings in the environment."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from relay_stack.ports import free_port

READY_TIMEOUT_ENV = "RELAY_READY_TIMEOUT_SECONDS"
DEFAULT_READY_TIMEOUT_SECONDS = 60.0


def ready_timeout() -> float:
    """How long a process may take to become ready: `RELAY_READY_TIMEOUT_SECONDS`, 60 s by default."""
    value = os.environ.get(READY_TIMEOUT_ENV)
    try:
        return float(value) if value else DEFAULT_READY_TIMEOUT_SECONDS
    except ValueError as error:
        raise ValueError(f"{READY_TIMEOUT_ENV} must be a number of seconds, not {value!r}") from error


class ServiceProcess:
    """One Relay service (`python -m relay_<name>`) on its own port, ready when /healthz says so."""

    def __init__(self, name: str, *, env: dict[str, str], port: int | None = None, log_dir: Path | None = None,
                 module: str | None = None) -> None:
        self.name = name
        self.module = module or f"relay_{name.split('-')[0]}"
        self.port = port or free_port()
        self.env = env
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0  # how many times it was started: a supervisor's restarts make it grow

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServiceProcess":
        """Spawn the process (readiness is checked separately, so many can start at once)."""
        env = {**os.environ, **self.env, "RELAY_HTTP_HOST": "127.0.0.1", "RELAY_HTTP_PORT": str(self.port)}
        output = open(self.log_dir / f"{self.name}.log", "ab") if self.log_dir else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], env=env, stdout=output, stderr=subprocess.STDOUT if output else None
        )
        if output:
            output.close()  # the child has its own copy
        self.generation += 1
        return self

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    def is_ready(self) -> bool:
        """One /healthz probe."""
        try:
            return self.running and httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, *, timeout: float | None = None) -> None:
        """Poll /healthz until it answers 200, or fail naming the service (timeout: `ready_timeout()`)."""
        timeout = ready_timeout() if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode} before it was ready")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} was not ready on {self.url} within {timeout}s")
            time.sleep(0.1)

    def stop(self, *, timeout: float = 15.0) -> int | None:
        """SIGTERM, so the service drains in-flight work and commits offsets; SIGKILL if it hangs."""
        if not self.process or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        """Die at once, as in a crash (no drain, no commit)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
