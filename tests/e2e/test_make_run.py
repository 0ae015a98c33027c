"""`make run`'s command: everything starts, the demo tenant can sign in, Ctrl-C stops it all cleanly."""

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from relay_stack import demo
from relay_stack.polling import eventually_sync
from relay_stack.ports import free_port


def test_run_serves_the_demo_tenant_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "relay_stack", "run", "--port", str(port), "--log-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        def signed_in() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"relay_stack exited early:\n{process.stdout.read()}")
            try:
                return httpx.post(f"{base}/api/session", json={
                    "tenant": demo.TENANT_ID, "username": "alice", "password": demo.PASSWORD}).status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(signed_in, timeout=90, interval=0.2, what="demo sign-in through the gateway")
        assert "text/html" in httpx.get(f"{base}/").headers["content-type"]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"Relay is running: {base}" in output
    assert f"/webhooks/{demo.TENANT_ID}/twilio/sms" in output
    assert "Stopping Relay" in output
    try:
        httpx.get(f"{base}/healthz", timeout=1)
        raise AssertionError("the gateway still answers after Ctrl-C")
    except httpx.ConnectError:
        pass
