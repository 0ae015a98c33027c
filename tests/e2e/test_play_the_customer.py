"""Play both sides: `relay_stack run` keeps what the customer simulator needs in a file of its owner's only, the
simulator's signed SMS and email reach staff, and their replies come back to it; the file goes when Relay stops."""

import json
import queue
import random
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from relay_stack import demo
from relay_stack.polling import eventually_sync
from relay_stack.ports import free_port


def _simulate(state: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "relay_stack", "simulate", *args[:1], "--state", str(state),
                             *args[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _answer(base: str, token: str, *, text: str, reply: str) -> None:
    """Bob finds the issue the customer's message opened and replies to it."""
    staff = {"authorization": f"Bearer {token}"}

    def opened() -> str | None:
        issues = httpx.get(f"{base}/api/issues", params={"limit": 50}, headers=staff).json()["issues"]
        return next((i["issue_id"] for i in issues if i["summary"] == text), None)

    issue_id = eventually_sync(opened, timeout=30, interval=0.2, what=f"the issue of {text!r}")
    answered = httpx.post(f"{base}/api/issues/{issue_id}/replies", json={"text": reply}, headers=staff)
    assert answered.status_code == 201, answered.text


def test_the_simulator_texts_and_emails_the_running_stack_and_prints_the_shops_replies(tmp_path: Path) -> None:
    port = free_port()
    relay = subprocess.Popen(
        [sys.executable, "-m", "relay_stack", "run", "--port", str(port), "--log-dir", str(tmp_path / "logs"),
         "--data-dir", str(tmp_path / "data")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in relay.stdout], daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    state = tmp_path / "embedded.json"
    try:
        while "Press Ctrl-C to stop." not in "".join(output):
            try:
                output.append(lines.get(timeout=120))
            except queue.Empty:
                raise AssertionError(f"no banner within 120 s:\n{''.join(output)}") from None
        assert f"{base}/sandbox" in "".join(output) and str(state) in "".join(output)
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        kept = json.loads(state.read_text())
        assert kept["gateway_url"] == base and kept["tenant_id"] == demo.TENANT_ID and kept["sandbox_url"]
        assert httpx.get(f"{base}/sandbox").status_code == 200  # embedded: the gateway serves the customer's page

        token = httpx.post(f"{base}/api/session", json={
            "tenant": demo.TENANT_ID, "username": "bob", "password": demo.PASSWORD}).json()["token"]
        number = f"+1202555{random.randint(2000, 9999)}"
        text = f"Is my parka ready? ({random.randint(0, 10**6)})"
        texting = _simulate(state, "sms", "--from", number, "--wait", "60", text)
        _answer(base, token, text=text, reply="Yes, it is on rack R-5.")
        out, err = texting.communicate(timeout=90)
        assert texting.returncode == 0, err
        assert f"Sent by sms from {number}" in out and "Reply by sms: Yes, it is on rack R-5." in out, out

        address = f"pat{random.randint(0, 10**6)}@example.com"
        body = f"Do you clean rugs? ({random.randint(0, 10**6)})"
        mailing = _simulate(state, "email", "--from", address, "--subject", "Rugs", "--wait", "60", body)
        _answer(base, token, text=body, reply="We do: $3 a square foot.")
        out, err = mailing.communicate(timeout=90)
        assert mailing.returncode == 0, err
        assert "Reply by email [Re: Rugs]: We do: $3 a square foot." in out, out

        refused = _simulate(state, "sms", "--from", "not a number", "--wait", "0", "hi")
        _, err = refused.communicate(timeout=30)
        assert refused.returncode == 2 and "no phone number" in err
    finally:
        relay.send_signal(signal.SIGINT)
        relay.wait(timeout=60)
    assert relay.returncode == 0
    assert not state.exists(), "the file with the demo tenant's secrets outlived the stack"
    gone = _simulate(state, "sms", "--from", "+12025550143", "hello")
    _, err = gone.communicate(timeout=30)
    assert gone.returncode != 0 and "No running Relay found" in err
