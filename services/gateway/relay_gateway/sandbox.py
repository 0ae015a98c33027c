"""The customer sandbox at /sandbox, embedded mode only: play a customer by SMS or email, see the shop's replies.

Served only when the gateway's `sandbox_url` is set (`RELAY_SANDBOX_URL`, which only `python -m relay_stack run`
sets, pointing at its provider sandbox; never in `deploy/`): every route here is a 404 otherwise. The page (HTML,
one stylesheet and one script, nothing inline: the gateway's CSP) sends through the gateway, which asks the
provider sandbox to sign and post the provider's webhook, so no provider secret ever reaches the browser; it polls
the sandbox's record of the conversation, both ways.
"""

from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from relay_kit.errors import NotFound, Unavailable

router = APIRouter(prefix="/sandbox", include_in_schema=False)
NO_CACHE = {"cache-control": "no-cache"}


class CustomerMessageIn(BaseModel):
    """What the page sends as the customer."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    channel: Literal["sms", "email"]
    from_address: str = Field(alias="from", min_length=3, max_length=254)
    text: str = Field(min_length=1, max_length=1600)
    subject: str | None = Field(default=None, max_length=200)


def _sandbox_url(request: Request) -> str:
    """The provider sandbox's address; 404 where there is none (everywhere but the embedded stack)."""
    url = getattr(request.app.state.settings, "sandbox_url", None)
    if not url:
        raise NotFound("There is no customer sandbox here: it exists only in embedded mode (make run).")
    return str(url).rstrip("/")


async def _ask_sandbox(request: Request, method: str, path: str, **options: Any) -> Response:
    """Call the provider sandbox's own API and pass its answer back (503 when it does not answer)."""
    url = _sandbox_url(request)
    client: httpx.AsyncClient = request.app.state.services.client
    try:
        answer = await client.request(method, f"{url}{path}", **options)
    except httpx.HTTPError:
        raise Unavailable("The provider sandbox is not answering; is `make run` still running?") from None
    return Response(answer.content, status_code=answer.status_code, media_type="application/json", headers=NO_CACHE)


@router.get("")
async def page(request: Request) -> HTMLResponse:
    """The page: pick or type a number or email, write as the customer, read the replies."""
    _sandbox_url(request)
    return HTMLResponse(PAGE, headers=NO_CACHE)


@router.get("/sandbox.js")
async def script(request: Request) -> Response:
    """The page's one script."""
    _sandbox_url(request)
    return Response(SCRIPT, media_type="text/javascript", headers=NO_CACHE)


@router.get("/sandbox.css")
async def style(request: Request) -> Response:
    """The page's stylesheet."""
    _sandbox_url(request)
    return Response(STYLE, media_type="text/css", headers=NO_CACHE)


@router.get("/api/addresses")
async def addresses(request: Request) -> Response:
    """Who to play: the demo's customers by number and email, and a number nobody knows."""
    return await _ask_sandbox(request, "GET", "/sandbox/addresses")


@router.get("/api/conversation")
async def conversation(
    request: Request,
    address: Annotated[str, Query(min_length=3, max_length=254)],
    channel: Literal["sms", "email"] = "sms",
) -> Response:
    """What this customer sent through the sandbox and what the shop sent them, in order."""
    return await _ask_sandbox(request, "GET", "/sandbox/conversation", params={"address": address, "channel": channel})


@router.post("/api/messages", status_code=201)
async def send_as_customer(body: CustomerMessageIn, request: Request) -> Response:
    """Send as the customer: the sandbox signs the provider's webhook and posts it to this gateway."""
    _sandbox_url(request)
    sent = {"channel": body.channel, "from": body.from_address, "text": body.text, "subject": body.subject}
    return await _ask_sandbox(request, "POST", "/sandbox/customer-messages", json=sent)


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Play the customer · Relay sandbox</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/sandbox/sandbox.css">
  <script src="/sandbox/sandbox.js" defer></script>
</head>
<body>
  <main>
    <h1>Play the customer</h1>
    <p class="intro">Write to <strong id="shop">the shop</strong> as one of its customers, by SMS or email.
      Staff see it in <a href="/" target="_blank" rel="noopener">Relay</a>; what they reply shows up below.
      Relay's provider sandbox signs each message as Twilio or Mailgun would: no secret reaches this page.</p>
    <form id="send-form" aria-label="Send as the customer">
      <label for="address">From (a phone number or an email address)</label>
      <input id="address" name="address" list="addresses" autocomplete="off" required maxlength="254"
             placeholder="+12025550143">
      <datalist id="addresses"></datalist>
      <p class="hint" id="channel-hint">Goes by SMS.</p>
      <div id="subject-row" hidden>
        <label for="subject">Subject</label>
        <input id="subject" name="subject" maxlength="200" value="Question">
      </div>
      <label for="text">Message</label>
      <textarea id="text" name="text" rows="3" required maxlength="1600"></textarea>
      <button type="submit" id="send">Send as the customer</button>
      <p id="status" role="status" aria-live="polite"></p>
    </form>
    <section aria-labelledby="conversation-title">
      <h2 id="conversation-title">Conversation</h2>
      <p id="empty" class="hint">Nothing yet with this customer.</p>
      <ol id="conversation" aria-live="polite"></ol>
    </section>
  </main>
</body>
</html>
"""

SCRIPT = r"""// The customer sandbox: send as the customer through the gateway, poll the conversation both ways.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("send-form"), address = $("address"), subject = $("subject"), text = $("text");
  const status = $("status"), list = $("conversation"), empty = $("empty");
  let shown = "";

  const channelOf = (value) => (value.includes("@") ? "email" : "sms");

  function onAddress() {
    const email = channelOf(address.value) === "email";
    $("subject-row").hidden = !email;
    $("channel-hint").textContent = email ? "Goes by email (Mailgun)." : "Goes by SMS (Twilio).";
    shown = "";
    refresh();
  }

  function say(message, problem) {
    status.textContent = message;
    status.classList.toggle("problem", Boolean(problem));
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body.error && body.error.message) return body.error.message;
      if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
    } catch (_) { /* not JSON */ }
    return `The gateway answered ${response.status}.`;
  }

  function render(messages) {
    const key = JSON.stringify(messages);
    if (key === shown) return;
    shown = key;
    list.replaceChildren(...messages.map((m) => {
      const item = document.createElement("li");
      item.className = m.direction === "to_shop" ? "from-customer" : "from-shop";
      const meta = document.createElement("p");
      meta.className = "meta";
      const who = m.direction === "to_shop" ? "Customer" : "Shop";
      const when = new Date(m.at).toLocaleTimeString();
      meta.textContent = `${who} · ${m.channel.toUpperCase()} · ${when}${m.subject ? " · " + m.subject : ""}`
        + (m.accepted ? "" : " · refused");
      const body = document.createElement("p");
      body.className = "body";
      body.textContent = m.text;
      item.append(meta, body);
      return item;
    }));
    empty.hidden = messages.length > 0;
  }

  async function refresh() {
    const value = address.value.trim();
    const complete = value.includes("@") ? /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)
      : value.replace(/\D/g, "").length >= 10;
    if (!complete) { render([]); return; }
    const query = new URLSearchParams({ address: value, channel: channelOf(value) });
    try {
      const response = await fetch(`/sandbox/api/conversation?${query}`, { cache: "no-store" });
      if (response.ok) render((await response.json()).messages);
    } catch (_) { /* the next poll tries again */ }
  }

  async function loadAddresses() {
    const response = await fetch("/sandbox/api/addresses");
    if (!response.ok) return;
    const body = await response.json();
    if (body.tenant_id) $("shop").textContent = `${body.tenant_id} (${body.shop_phone}, ${body.shop_email})`;
    $("addresses").replaceChildren(...body.addresses.map((a) => {
      const option = document.createElement("option");
      option.value = a.address;
      option.label = `${a.label} (${a.channel.toUpperCase()})`;
      return option;
    }));
    if (!address.value && body.addresses.length) { address.value = body.addresses[0].address; onAddress(); }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = address.value.trim();
    const sent = { channel: channelOf(value), from: value, text: text.value };
    if (sent.channel === "email") sent.subject = subject.value;
    $("send").disabled = true;
    say("Sending…", false);
    try {
      const response = await fetch("/sandbox/api/messages", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sent),
      });
      if (response.ok) {
        text.value = "";
        say(`Sent by ${sent.channel === "email" ? "email" : "SMS"}. Staff see it now.`, false);
        refresh();
      } else {
        say(await errorOf(response), true);
      }
    } catch (_) {
      say("The gateway did not answer; is Relay still running?", true);
    } finally {
      $("send").disabled = false;
    }
  });
  address.addEventListener("change", onAddress);
  address.addEventListener("input", onAddress);
  loadAddresses();
  setInterval(refresh, 1500);
})();
"""

STYLE = """:root { color-scheme: light dark; --accent: #1a73e8; --line: #c8ccd2; --muted: #5f6368; }
@media (prefers-color-scheme: dark) { :root { --line: #3c4043; --muted: #9aa0a6; --accent: #8ab4f8; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, sans-serif; }
main { max-width: 44rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0.5rem 0; }
.intro, .hint, .meta { color: var(--muted); }
form { display: grid; gap: 0.4rem; margin: 1rem 0; }
input, textarea, button { font: inherit; min-height: 44px; padding: 0.5rem; border: 1px solid var(--line);
  border-radius: 6px; width: 100%; }
button { background: var(--accent); color: #fff; border: 0; cursor: pointer; font-weight: 600; }
button:disabled { opacity: 0.6; }
.problem { color: #d93025; }
ol { list-style: none; padding: 0; display: grid; gap: 0.5rem; }
li { padding: 0.5rem 0.75rem; border: 1px solid var(--line); border-radius: 10px; max-width: 85%; }
li.from-customer { justify-self: end; border-color: var(--accent); }
li.from-shop { justify-self: start; }
li p { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.meta { font-size: 0.8rem; }
[hidden] { display: none !important; }
"""
