"""The whole of Relay on one machine: broker, every service as its own process, the gateway."""

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relay_stack.broker import EmbeddedBroker
from relay_stack.ports import free_port
from relay_stack.processes import ServiceProcess

log = logging.getLogger(__name__)

BACKEND_SERVICES = ("ingest", "issues", "chat", "notify")
DEFAULT_PORTS = {"gateway": 8000, "ingest": 8101, "issues": 8102, "chat": 8103, "notify": 8104}


class Stack:
    """Starts and stops Relay; the broker is embedded unless a bootstrap address is given."""

    def __init__(
        self,
        *,
        bootstrap_servers: str | None = None,
        ports: dict[str, int] | None = None,
        log_dir: Path | None = None,
        jwt_secret: str = "relay-dev-secret-change-me-in-production",
        admin_token: str = "relay-dev-admin-token",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.ports = ports or {name: free_port() for name in DEFAULT_PORTS}
        self.log_dir = log_dir
        self.jwt_secret = jwt_secret
        self.admin_token = admin_token
        self.broker = None if bootstrap_servers else EmbeddedBroker(log_path=log_dir / "broker.log" if log_dir else None)
        self._bootstrap = bootstrap_servers
        self.extra_env = extra_env or {}
        self.services: dict[str, ServiceProcess] = {}

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
            self.services[name] = ServiceProcess(name, env=env, port=self.ports[name], log_dir=self.log_dir).start()
        try:
            with ThreadPoolExecutor(len(self.services)) as pool:
                list(pool.map(lambda s: s.wait_ready(timeout=60), self.services.values()))
        except Exception:
            self.stop()
            raise
        return self

    def add_service(self, name: str, *, module: str, env: dict[str, str] | None = None) -> ServiceProcess:
        """Start one more process (a second replica, say) with the stack's settings."""
        process = ServiceProcess(name, module=module, env={**self.environment(), **(env or {})},
                                 log_dir=self.log_dir).start()
        process.wait_ready(timeout=60)
        self.services[name] = process
        return process

    def stop(self) -> None:
        """Stop the gateway first and the broker last, each service draining its work."""
        for name in reversed(list(self.services)):
            self.services[name].stop()
        if self.broker:
            self.broker.stop()

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
