"""The supervisor on real processes: what dies is started again the same way, with growing back-off, reported."""

import subprocess
import sys
import time

import pytest

from relay_stack.polling import eventually_sync
from relay_stack.processes import ServiceProcess, ready_timeout
from relay_stack.supervisor import Supervisor


class Program:
    """A real child process, started again by `start` with the same command line."""

    def __init__(self, code: str) -> None:
        self.command = [sys.executable, "-c", code]
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.starts: list[float] = []

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command)
        self.generation += 1
        self.starts.append(time.monotonic())

    def kill(self) -> None:
        if self.running:
            self.process.kill()  # type: ignore[union-attr]
            self.process.wait()  # type: ignore[union-attr]


def test_a_killed_process_is_restarted_and_reported() -> None:
    reports: list[str] = []
    program = Program("import time; time.sleep(600)")
    program.start()
    supervisor = Supervisor(backoff=0.1, backoff_max=1.0, report=reports.append)
    supervisor.watch("sleeper", program, program.start)
    supervisor.start()
    try:
        program.kill()
        eventually_sync(lambda: program.generation == 2 and program.running, timeout=10, what="restarted")
        assert supervisor.watched["sleeper"].restarts == 1
        assert any("sleeper exited (code -9); restarting" in line for line in reports), reports
        assert any("sleeper is back" in line for line in reports), reports
    finally:
        supervisor.stop()
        program.kill()


def test_a_crash_loop_backs_off_and_a_stopped_supervisor_restarts_nothing() -> None:
    reports: list[str] = []
    program = Program("import sys; sys.exit(3)")
    program.start()
    supervisor = Supervisor(backoff=0.1, backoff_max=0.4, report=reports.append)
    supervisor.watch("crasher", program, program.start)
    supervisor.start()
    try:
        eventually_sync(lambda: len(program.starts) >= 5, timeout=20, what="five starts")
    finally:
        supervisor.stop()
    gaps = [b - a for a, b in zip(program.starts, program.starts[1:], strict=False)]
    assert gaps[2] > gaps[0] and all(gap < 0.4 + 1.0 for gap in gaps), gaps  # doubling, capped
    assert any("crasher exited (code 3)" in line for line in reports)
    starts = len(program.starts)
    assert not supervisor._thread.is_alive()  # type: ignore[union-attr]
    assert len(program.starts) == starts


def test_readiness_waits_are_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("RELAY_READY_TIMEOUT_SECONDS", "1.5")
    assert ready_timeout() == 1.5
    (tmp_path / "relay_never_ready.py").write_text("import time\ntime.sleep(120)\n")  # never answers /healthz
    never_ready = ServiceProcess("nothing", module="relay_never_ready", env={"PYTHONPATH": str(tmp_path)},
                                 log_dir=tmp_path)
    never_ready.start()
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="within 1.5s"):
            never_ready.wait_ready()
        assert time.monotonic() - started < 10
    finally:
        never_ready.kill()
    monkeypatch.setenv("RELAY_READY_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ValueError, match="RELAY_READY_TIMEOUT_SECONDS"):
        ready_timeout()
