"""`make run`'s command: everything starts, the demo tenant can sign in, Ctrl-C stops it all cleanly."""

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from relay_stack import demo
from relay_stack.ports import free_port


def test_run_serves_the_demo_tenant_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "relay_stack", "run", "--port", str(port), "--log-dir", str(tmp_path),
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        while "Press Ctrl-C to stop." not in "".join(output):
            try:
                output.append(lines.get(timeout=90))
            except queue.Empty:
                raise AssertionError(f"no banner within 90 s:\n{''.join(output)}") from None
        assert f"Relay is running: {base}" in "".join(output)
        assert f"/webhooks/{demo.TENANT_ID}/twilio/sms" in "".join(output)
        signed_in = httpx.post(f"{base}/api/session", json={
            "tenant": demo.TENANT_ID, "username": "alice", "password": demo.PASSWORD})
        assert signed_in.status_code == 200
        assert "text/html" in httpx.get(f"{base}/").headers["content-type"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        reader.join(timeout=10)
    while not lines.empty():
        output.append(lines.get())
    assert process.returncode == 0, "".join(output)
    assert "Stopped." in "".join(output)
    try:
        httpx.get(f"{base}/healthz", timeout=1)
        raise AssertionError("the gateway still answers after Ctrl-C")
    except httpx.ConnectError:
        pass
