"""The whole of Relay on one machine: broker, every service as its own process, the gateway."""

import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relay_stack.broker import EmbeddedBroker
from relay_stack.ports import free_port
from relay_stack.processes import ServiceProcess, ready_timeout
from relay_stack.supervisor import Supervisor

log = logging.getLogger(__name__)

BACKEND_SERVICES = ("ingest", "issues", "chat", "notify")
DEFAULT_PORTS = {"gateway": 8000, "ingest": 8101, "issues": 8102, "chat": 8103, "notify": 8104}


class Stack:
    """Starts and stops Relay; the broker is embedded unless a bootstrap address is given.

    Each service keeps its embedded data in `<data_dir>/<service>` (`RELAY_DATA_DIR`); without a `data_dir`
    the stack uses a temporary folder of its own, removed when it stops. With `supervise` (the default) a
    process that dies, the embedded broker included, is restarted the same way (`relay_stack.supervisor`).
    `ready_timeout` (default `RELAY_READY_TIMEOUT_SECONDS`, else 60 s) bounds each readiness wait.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str | None = None,
        ports: dict[str, int] | None = None,
        log_dir: Path | None = None,
        jwt_secret: str = "relay-dev-secret-change-me-in-production",
        admin_token: str = "relay-dev-admin-token",
        extra_env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        supervise: bool = True,
        supervisor: Supervisor | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        self.ports = ports or {name: free_port() for name in DEFAULT_PORTS}
        self.log_dir = log_dir
        self.jwt_secret = jwt_secret
        self.admin_token = admin_token
        self.broker = None if bootstrap_servers else EmbeddedBroker(log_path=log_dir / "broker.log" if log_dir else None)
        self._bootstrap = bootstrap_servers
        self.extra_env = extra_env or {}
        self.services: dict[str, ServiceProcess] = {}
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.ready_timeout = ready_timeout
        self.supervisor = (supervisor or Supervisor()) if supervise else None

    @property
    def timeout(self) -> float:
        """How long one process may take to become ready."""
        return ready_timeout() if self.ready_timeout is None else self.ready_timeout

    def service_data_dir(self, service: str) -> Path:
        """Where one service keeps its embedded data."""
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="relay-data-"))
        return self.data_dir / service

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap or self.broker.bootstrap_servers  # type: ignore[union-attr]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, service: str) -> str:
        """Where a service listens (for tests; people and the demo seed use the gateway)."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def environment(self) -> dict[str, str]:
        """Settings every process gets."""
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "RELAY_JWT_SECRET": self.jwt_secret,
            "RELAY_ADMIN_TOKEN": self.admin_token,
            "RELAY_PUBLIC_URL": self.gateway_url,
            **{f"RELAY_{name.upper()}_URL": self.url(name) for name in BACKEND_SERVICES},
            **self.extra_env,
        }
        if os.environ.get("MONGODB_URI"):
            env["MONGODB_URI"] = os.environ["MONGODB_URI"]
        return env

    def start(self) -> "Stack":
        """Start the broker, then every service at once, and wait until all are ready."""
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.broker:
            self.broker.start()
        env = self.environment()
        for name in (*BACKEND_SERVICES, "gateway"):
            self.services[name] = ServiceProcess(name, env=self._service_env(name, env), port=self.ports[name],
                                                 log_dir=self.log_dir).start()
        try:
            with ThreadPoolExecutor(len(self.services)) as pool:
                list(pool.map(lambda s: s.wait_ready(timeout=self.timeout), self.services.values()))
        except Exception:
            self.stop()
            raise
        if self.supervisor:
            if self.broker:
                self.supervisor.watch("broker", self.broker, self.broker.start)
            for process in self.services.values():
                self._supervise(process)
            self.supervisor.start()
        return self

    def _service_env(self, name: str, env: dict[str, str]) -> dict[str, str]:
        data_dir = self.service_data_dir(name)
        data_dir.mkdir(parents=True, exist_ok=True)
        return {**env, "RELAY_DATA_DIR": str(data_dir)}

    def _supervise(self, process: ServiceProcess) -> None:
        def restart() -> None:
            process.start()
            process.wait_ready(timeout=self.timeout)

        if self.supervisor:
            self.supervisor.watch(process.name, process, restart)

    def add_service(self, name: str, *, module: str, env: dict[str, str] | None = None) -> ServiceProcess:
        """Start one more process (a second replica, say) with the stack's settings (supervised like the rest)."""
        process = ServiceProcess(name, module=module, env={**self._service_env(name, self.environment()), **(env or {})},
                                 log_dir=self.log_dir).start()
        process.wait_ready(timeout=self.timeout)
        self.services[name] = process
        self._supervise(process)
        return process

    def kill(self, name: str) -> int:
        """kill -9 one process ("broker" for the embedded broker), as in a crash; returns its generation.

        The supervisor starts it again; `wait_restarted(name, generation)` waits for that.
        """
        process = self.broker if name == "broker" else self.services[name]
        if process is None:
            raise ValueError("this stack's broker is not embedded")
        generation = process.generation
        process.kill()
        return generation

    def wait_restarted(self, name: str, generation: int, *, timeout: float | None = None) -> float:
        """Wait until the supervisor has started `name` again after `generation` and found it ready; returns seconds."""
        if not self.supervisor:
            raise RuntimeError("this stack is not supervised")
        started = time.monotonic()
        limit = timeout if timeout is not None else self.timeout * 2 + 30
        watched = self.supervisor.watched[name]
        while not (watched.ready_generation > generation and watched.process.running):
            if time.monotonic() - started > limit:
                raise TimeoutError(f"{name} was not back within {limit:.0f}s")
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop the gateway first and the broker last, each service draining its work."""
        if self.supervisor:
            self.supervisor.stop()
        for name in reversed(list(self.services)):
            self.services[name].stop()
        if self.broker:
            self.broker.stop()
        if self._own_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
