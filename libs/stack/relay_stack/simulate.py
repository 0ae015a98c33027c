"""Play the customer: signed provider webhooks to a running embedded Relay, and the shop's replies back.

`python -m relay_stack simulate sms --from +12025550143 "Is my coat ready?"` (or `simulate email --from
a@b.c --subject S "text"`) reads what `python -m relay_stack run` wrote to `.relay/embedded.json` (the
gateway's address, the demo tenant and its provider secrets), posts the message as Twilio (SMS) or Mailgun
(email) would, signed with the tenant's secrets, then waits up to `--wait` seconds and prints every reply
the shop sent to that address, as the provider sandbox recorded it. The same signing serves the sandbox's
own "send as the customer" API (`relay_stack.sandbox`), which the `/sandbox` page of the gateway calls.
"""

import argparse
import json
import os
import re
import secrets as tokens
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from relay_stack.signing import mailgun_signature, twilio_signature

SMS = "sms"
EMAIL = "email"
CHANNELS = (SMS, EMAIL)
MAX_TEXT = 1600  # what Twilio delivers at most in one inbound SMS
STATE_FILE = "embedded.json"


class CustomerMessageRefused(ValueError):
    """What the customer typed cannot be sent (no address, an address of the wrong kind, no text)."""


@dataclass(frozen=True)
class Shop:
    """Where a simulated customer writes to: the gateway, the tenant and the provider secrets it signs with."""

    gateway_url: str
    tenant_id: str
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_phone_number: str
    mailgun_signing_key: str
    email_address: str
    sandbox_url: str | None = None

    @classmethod
    def from_secrets(cls, secrets: Any, *, gateway_url: str, tenant_id: str, sandbox_url: str | None = None) -> "Shop":
        """The shop of a tenant provisioned with `relay_stack.demo.ProviderSecrets`."""
        return cls(gateway_url=gateway_url.rstrip("/"), tenant_id=tenant_id,
                   twilio_account_sid=secrets.twilio_account_sid, twilio_auth_token=secrets.twilio_auth_token,
                   twilio_phone_number=secrets.twilio_phone_number, mailgun_signing_key=secrets.mailgun_signing_key,
                   email_address=secrets.email_from, sandbox_url=sandbox_url)


# ---- where the running stack is -------------------------------------------------------------------------


def state_path(data_root: Path | None = None) -> Path:
    """Where `relay_stack run` keeps what the simulator needs: beside the data folder (`.relay/embedded.json`)."""
    root = data_root if data_root is not None else Path(os.environ.get("RELAY_DATA_ROOT", ".relay/data"))
    return root.parent / STATE_FILE


def save_state(path: Path, shop: Shop, *, pid: int) -> None:
    """Write the running stack's addresses and the demo tenant's secrets, readable by this user only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        json.dump({**asdict(shop), "pid": pid}, file, indent=2)


def remove_state(path: Path, *, pid: int) -> None:
    """Remove the file on stop, if it is still this process's (another stack may have written it since)."""
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def load_state(path: Path) -> Shop:
    """The running stack's shop, or a clear error saying how to start one."""
    try:
        fields = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"No running Relay found ({path} is missing): start it with `make run` "
                         "(python -m relay_stack run) first.") from None
    except ValueError:
        raise SystemExit(f"{path} is not the file `python -m relay_stack run` writes; start Relay again.") from None
    fields.pop("pid", None)
    return Shop(**fields)


# ---- addresses -----------------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def phone_number(text: str) -> str:
    """A number as typed ("(202) 555-0143", "+44 20 7946 0958") in E.164; North American without a country code."""
    digits = re.sub(r"\D", "", text)
    if text.strip().startswith("+") and 8 <= len(digits) <= 15:
        return f"+{digits}"
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    raise CustomerMessageRefused(f"{text!r} is no phone number: give one like +12025550143 or (202) 555-0143.")


def email_address(text: str) -> str:
    """An email address, lower-cased (as providers deliver and ingest compares them)."""
    address = text.strip().lower()
    if not _EMAIL.match(address):
        raise CustomerMessageRefused(f"{text!r} is no email address: give one like jane.doe@example.com.")
    return address


def address_of(channel: str, text: str) -> str:
    """The customer's address for that channel, normalised as the provider would send it."""
    if channel == SMS:
        return phone_number(text)
    if channel == EMAIL:
        return email_address(text)
    raise CustomerMessageRefused(f"Channel {channel!r} is not one of {', '.join(CHANNELS)}.")


def _text(text: str) -> str:
    if not text.strip():
        raise CustomerMessageRefused("Type what the customer writes.")
    if len(text) > MAX_TEXT:
        raise CustomerMessageRefused(f"A customer's message here has at most {MAX_TEXT} characters.")
    return text


# ---- sending as the customer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A customer message the shop's gateway answered."""

    channel: str
    address: str
    text: str
    subject: str | None
    status_code: int
    answer: str
    message_id: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.status_code < 300


def send_sms(shop: Shop, *, from_number: str, text: str, sid: str | None = None,
             media: tuple[tuple[str, str], ...] = (), timeout: float = 15) -> Sent:
    """POST a Twilio inbound SMS (an MMS with `media`: (url, content type) pairs) to the gateway, signed as Twilio
    signs it."""
    number = phone_number(from_number)
    sid = sid or f"SM{uuid.uuid4().hex}"
    url = f"{shop.gateway_url}/webhooks/{shop.tenant_id}/twilio/sms"
    form = {"From": number, "To": shop.twilio_phone_number, "Body": _text(text) if not media else text,
            "MessageSid": sid, "AccountSid": shop.twilio_account_sid, "NumMedia": str(len(media))}
    for n, (media_url, content_type) in enumerate(media):
        form[f"MediaUrl{n}"] = media_url
        form[f"MediaContentType{n}"] = content_type
    signature = twilio_signature(url=url, params=form, auth_token=shop.twilio_auth_token)
    response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=timeout)
    return Sent(SMS, number, text, None, response.status_code, response.text[:500], sid)


def send_email(shop: Shop, *, from_address: str, subject: str, text: str, message_id: str | None = None,
               in_reply_to: str | None = None, timeout: float = 15) -> Sent:
    """POST an email as a Mailgun route's `forward()` to the gateway, signed with the tenant's signing key."""
    address = email_address(from_address)
    message_id = message_id or f"<{uuid.uuid4().hex}@customer.relay.invalid>"
    timestamp, token = str(int(time.time())), tokens.token_hex(25)
    form = {"sender": address, "from": address, "recipient": shop.email_address, "To": shop.email_address,
            "subject": subject.strip() or "(no subject)", "body-plain": _text(text), "stripped-text": text,
            "Message-Id": message_id, "timestamp": timestamp, "token": token,
            "signature": mailgun_signature(timestamp=timestamp, token=token, signing_key=shop.mailgun_signing_key)}
    if in_reply_to:
        form["In-Reply-To"] = form["References"] = in_reply_to
    response = httpx.post(f"{shop.gateway_url}/webhooks/{shop.tenant_id}/mailgun/inbound", data=form,
                          timeout=timeout)
    return Sent(EMAIL, address, text, form["subject"], response.status_code, response.text[:500], message_id)


def send(shop: Shop, *, channel: str, from_address: str, text: str, subject: str | None = None) -> Sent:
    """Send as the customer on that channel (SMS by Twilio, email by Mailgun)."""
    if channel == SMS:
        return send_sms(shop, from_number=from_address, text=text)
    if channel == EMAIL:
        return send_email(shop, from_address=from_address, subject=subject or "Question", text=text)
    raise CustomerMessageRefused(f"Channel {channel!r} is not one of {', '.join(CHANNELS)}.")


# ---- the shop's replies, as the provider sandbox recorded them -------------------------------------------------


def replies(sandbox_url: str, *, to: str, after: int = 0) -> list[dict[str, Any]]:
    """The replies the shop sent to an address after the sandbox's message number `after`, oldest first."""
    response = httpx.get(f"{sandbox_url}/sandbox/messages", params={"to": to, "after": after}, timeout=10)
    response.raise_for_status()
    return response.json()["messages"]


def last_message_id(sandbox_url: str) -> int:
    """The number of the newest message the sandbox recorded (0: none), so only later replies are shown."""
    response = httpx.get(f"{sandbox_url}/sandbox/messages", params={"limit": 0}, timeout=10)
    response.raise_for_status()
    return int(response.json()["last_id"])


def wait_for_replies(sandbox_url: str, *, to: str, after: int, wait: float, quiet: float = 2.0,
                     out: Any = sys.stdout) -> int:
    """Print each reply to `to` as it arrives, for up to `wait` seconds, and `quiet` seconds more after the last
    reply (a staff member may send two); how many were printed."""
    deadline = time.monotonic() + wait
    shown = 0
    while True:
        for reply in replies(sandbox_url, to=to, after=after):
            after = max(after, reply["id"])
            shown += 1
            deadline = min(deadline, time.monotonic() + quiet) if shown == 1 else time.monotonic() + quiet
            subject = f" [{reply['subject']}]" if reply.get("subject") else ""
            print(f"Reply by {reply['channel']}{subject}: {reply['body'].strip()}", file=out, flush=True)
        if time.monotonic() >= deadline:
            return shown
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


# ---- the command -------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`simulate sms …` and `simulate email …`, under `python -m relay_stack`."""
    channels = parser.add_subparsers(dest="channel", required=True)
    for channel, helped in ((SMS, "text the shop as the customer (Twilio)"),
                            (EMAIL, "email the shop as the customer (Mailgun)")):
        sub = channels.add_parser(channel, help=helped)
        sub.add_argument("--from", dest="from_address", required=True,
                         metavar="NUMBER" if channel == SMS else "ADDRESS",
                         help="the customer's number (+12025550143)" if channel == SMS else "the customer's address")
        if channel == EMAIL:
            sub.add_argument("--subject", default="Question", help="the email's subject")
        sub.add_argument("--tenant", help="the business to write to (default: the demo tenant of the running stack)")
        sub.add_argument("--gateway", help="the gateway's address (default: the running stack's)")
        sub.add_argument("--wait", type=float, default=60.0,
                         help="seconds to wait for the shop's first reply, printing each (default 60; 0: do not wait)")
        sub.add_argument("--state", type=Path, help="the running stack's file (default .relay/embedded.json)")
        sub.add_argument("text", help="what the customer writes")


def run(args: argparse.Namespace, *, out: Any = sys.stdout) -> int:
    """Send one customer message and print the shop's replies; 0 when the gateway accepted it."""
    shop = load_state(args.state or state_path())
    if args.tenant:
        shop = Shop(**{**asdict(shop), "tenant_id": args.tenant})
    if args.gateway:
        shop = Shop(**{**asdict(shop), "gateway_url": args.gateway.rstrip("/")})
    try:
        address = address_of(args.channel, args.from_address)
        after = last_message_id(shop.sandbox_url) if shop.sandbox_url and args.wait > 0 else 0
        sent = send(shop, channel=args.channel, from_address=address, text=args.text,
                    subject=getattr(args, "subject", None))
    except CustomerMessageRefused as refused:
        print(str(refused), file=sys.stderr)
        return 2
    except httpx.HTTPError as error:
        print(f"Relay did not answer at {shop.gateway_url}: {error!r}. Is `make run` still running?", file=sys.stderr)
        return 1
    if not sent.accepted:
        print(f"The gateway refused the {sent.channel}: {sent.status_code} {sent.answer}", file=sys.stderr)
        return 1
    print(f"Sent by {sent.channel} from {sent.address} to tenant '{shop.tenant_id}': {sent.text}", file=out, flush=True)
    if args.wait > 0 and shop.sandbox_url:
        print(f"Waiting up to {args.wait:g} s for the shop's reply (answer it at {shop.gateway_url}/) ...", file=out,
              flush=True)
        if not wait_for_replies(shop.sandbox_url, to=address, after=after, wait=args.wait, out=out):
            print("No reply yet.", file=out, flush=True)
    return 0
