"""The demo tenant: a dry cleaner with three staff members, provider secrets, customers and a day of life.

`seed` provisions it through the gateway as a real shop would be: the admin API for the tenant, its staff and
customers (with their account data and orders); the staff's own API for channels, conversations, reply
templates and their work on issues; and signed provider webhooks for what customers sent. Running it again
changes nothing: chat posts carry client message ids, webhooks the same provider message ids, and an issue
someone already worked on is left as it is.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx

from relay_stack import simulate

log = logging.getLogger(__name__)

TENANT_ID = "demo"
TENANT_NAME = "Sunrise Dry Cleaners"
PASSWORD = "relay-demo-pass"
SEED_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class DemoStaff:
    username: str
    display_name: str
    role: str


STAFF = (
    DemoStaff("alice", "Alice Martin", "manager"),
    DemoStaff("bob", "Bob Chen", "staff"),
    DemoStaff("carol", "Carol Diaz", "staff"),
)


@dataclass(frozen=True)
class ProviderSecrets:
    """What a tenant configures per provider; the demo's values are printed on start."""

    twilio_account_sid: str = "AC00000000000000000000000000demo"
    twilio_auth_token: str = "demo-twilio-auth-token"
    twilio_phone_number: str = "+15550100000"
    twilio_api_base_url: str = "https://api.twilio.com"
    mailgun_signing_key: str = "demo-mailgun-signing-key"
    sendgrid_user: str = "sendgrid"
    sendgrid_password: str = "demo-sendgrid-pass"
    email_from: str = "help@sunrise-cleaners.example"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525


# ---- customers: the point of sale's directory -----------------------------------------------------------

UNKNOWN_NUMBER = "+12025550143"
"""A number no customer of the demo has: its texts show how an unknown contact looks."""


def _day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


def customers() -> list[dict[str, Any]]:
    """The demo's customers as the point of sale sends them: contacts, account summary and orders (dates from today)."""
    def order(ticket: str, items: str, status: str, rack: str | None, balance: str, due: int) -> dict[str, Any]:
        return {"ticket": ticket, "items": items, "status": status, "rack": rack, "balance": balance,
                "due_date": _day(due)}

    return [
        {"customer_id": "cus_jane", "name": "Jane Doe", "phones": ["+14155550101"], "emails": ["jane.doe@example.com"],
         "account": {"balance": "$12.50", "open_orders": 1, "loyalty_tier": "Gold", "last_visit": _day(-2),
                     "ticket": "A-1042", "rack": "R-12", "due_date": _day(0)},
         "orders": [order("A-1042", "navy suit, 2 shirts", "ready", "R-12", "12.50", 0),
                    order("A-0987", "winter coat", "picked up", None, "0.00", -6)]},
        {"customer_id": "cus_omar", "name": "Omar Haddad", "phones": ["+14155550102"], "emails": ["omar@example.com"],
         "account": {"balance": "$0.00", "open_orders": 1, "loyalty_tier": "Silver", "last_visit": _day(-4),
                     "ticket": "A-1051", "rack": "", "due_date": _day(3)},
         "orders": [order("A-1051", "grey suit jacket: shorten sleeves", "in progress", None, "0.00", 3)]},
        {"customer_id": "cus_mei", "name": "Mei Tanaka", "phones": ["+14155550103"], "emails": [],
         "account": {"balance": "$48.00", "open_orders": 3, "loyalty_tier": "None", "last_visit": _day(-1),
                     "ticket": "B-2210", "rack": "R-3", "due_date": _day(1)},
         "orders": [order("B-2210", "3 dresses", "in progress", "R-3", "48.00", 1)]},
        {"customer_id": "cus_priya", "name": "Priya Shah", "phones": ["+14155550104"],
         "emails": ["priya.shah@example.com"],
         "account": {"balance": "$85.00", "open_orders": 1, "loyalty_tier": "Gold", "last_visit": _day(-5),
                     "ticket": "W-0031", "rack": "special care", "due_date": _day(2)},
         "orders": [order("W-0031", "wedding dress: clean and press, beading check", "in progress", "special care",
                          "85.00", 2)]},
        {"customer_id": "cus_luis", "name": "Luis Romero", "phones": ["+14155550105"], "emails": [],
         "account": {"balance": "$17.50", "open_orders": 1, "loyalty_tier": "Silver", "last_visit": _day(-3),
                     "ticket": "C-3310", "rack": "R-4", "due_date": _day(0)},
         "orders": [order("C-3310", "5 shirts, light starch", "ready", "R-4", "17.50", 0)]},
        {"customer_id": "cus_grace", "name": "Grace Kim", "phones": ["+14155550106"],
         "emails": ["grace.kim@example.com"],
         "account": {"balance": "$9.00", "open_orders": 1, "loyalty_tier": "None", "last_visit": _day(-2),
                     "ticket": "B-2203", "rack": "R-9", "due_date": _day(1)},
         "orders": [order("B-2203", "silk blouse: wine stain", "on hold", "R-9", "9.00", 1)]},
        {"customer_id": "cus_tom", "name": "Tom Becker", "phones": ["+14155550107"], "emails": ["tom@becker.example"],
         "account": {"balance": "$32.00", "open_orders": 2, "loyalty_tier": "Bronze", "last_visit": _day(-7),
                     "ticket": "D-4402", "rack": "R-7", "due_date": _day(-1)},
         "orders": [order("D-4402", "2 wool blankets", "ready", "R-7", "20.00", -1),
                    order("D-4415", "duvet", "in progress", None, "12.00", 2)]},
    ]


CUSTOMERS: tuple[dict[str, Any], ...] = tuple(customers())
"""The demo's customers (dates as of import time; `seed` recomputes them)."""


def sandbox_suggestions() -> list[Any]:
    """Who to play on the /sandbox page: the demo's customers by number and email, and an unknown number."""
    from relay_stack.sandbox import Suggestion

    found = [Suggestion(UNKNOWN_NUMBER, simulate.SMS, "Unknown number")]
    for customer in customers():
        found += [Suggestion(phone, simulate.SMS, customer["name"]) for phone in customer["phones"]]
        found += [Suggestion(email, simulate.EMAIL, customer["name"]) for email in customer["emails"]]
    return found


# ---- a day of life ---------------------------------------------------------------------------------------

CHANNELS = (
    ("front-counter", "Counter shift notes: pickups, drop-offs, calls to make"),
    ("pressing", "Press room: machines, queue and special care"),
    ("deliveries", "Van runs and hotel pickups"),
)

# (channel, author, text); "general" is the tenant's default channel
CHANNEL_MESSAGES = (
    ("general", "alice", "Holiday hours are up by the register: open until 8pm on Dec 22 and 23."),
    ("front-counter", "alice", "Morning all! Hotel Marlowe drops off 40 napkins and 12 tablecloths around 10."),
    ("front-counter", "bob", "Got it, I'll clear rack R-2 for them."),
    ("front-counter", "carol", "Reminder: Mrs Henderson picks up her wedding dress at 4, it's in the special-care "
                               "closet."),
    ("front-counter", "alice", "@bob can you call the two customers whose orders are past due? The list is by "
                               "the register."),
    ("pressing", "bob", "Steam press #2 is leaking again, using #1 for everything until the repair."),
    ("pressing", "alice", "Repair tech is booked for tomorrow at 8am."),
    ("pressing", "carol", "Grace Kim's silk blouse: the wine stain is lighter after two spottings but still there. "
                          "Please don't press it until she answers."),
    ("pressing", "bob", "Noted, it hangs on R-9 with a red tag."),
    ("deliveries", "carol", "Van leaves at 2 for the hotel run: Marlowe, The Linden, then the Bay Street office."),
    ("deliveries", "alice", "Bay Street wants their uniforms before 5, go there first if traffic is bad."),
    ("deliveries", "carol", "Will do, back by 4:30."),
)

# (the people besides the author, author, text)
PRIVATE_MESSAGES = (
    (("carol",), "alice", "Could you open tomorrow at 7? The Hendersons want an early pickup."),
    (("alice",), "carol", "Sure, I'll be in at 6:45."),
    (("alice",), "carol", "Should I bring the spare till keys back too?"),
    (("alice", "carol"), "bob", "Pizza for lunch on Friday? My treat for covering Saturday."),
    (("bob", "carol"), "alice", "Count me in!"),
)

REPLY_TEMPLATES = (
    ("ready-for-pickup", "Ready for pickup",
     "Hi {first_name}, your order {ticket} is ready for pickup. Balance {balance}. See you soon at {shop_name}!"),
    ("running-late", "Running late",
     "Hi {first_name}, sorry: order {ticket} needs one more day. It will be ready on {due_date}."),
)


@dataclass(frozen=True)
class Inbound:
    """A message a customer sent (by SMS, or by email with a subject)."""

    key: str
    text: str
    subject: str | None = None


@dataclass(frozen=True)
class IssueStory:
    """A customer's issue: what they wrote, and what staff did about it (each step: (actor, action, argument))."""

    address: str
    customer_id: str | None  # None: an unknown contact
    messages: tuple[Inbound, ...]
    steps: tuple[tuple[str, str, str | None], ...] = ()
    follow_up: tuple[Inbound, ...] = ()


ISSUES = (
    # unassigned (red): an unknown number, two texts
    IssueStory(UNKNOWN_NUMBER, None, (
        Inbound("unknown-1", "Hi, do you clean leather jackets? How much would it be?"),
        Inbound("unknown-2", "It's a suede one, knee length."))),
    IssueStory("+14155550107", "cus_tom", (
        Inbound("tom-1", "Are you open this Sunday? I'd like to get my blankets."),)),
    # assigned (blue): assigned by the manager with a private note, answered, the customer thanked
    IssueStory("+14155550104", "cus_priya", (
        Inbound("priya-1", "Hi! Is my wedding dress ready? I need it for Saturday."),), steps=(
        ("alice", "assign", "carol"),
        ("alice", "comment", "Carol, it's in the special-care closet: check the beading before she comes."),
        ("carol", "reply", "Hi Priya, your dress is being finished today. It will be ready Friday after 2pm."),
    ), follow_up=(Inbound("priya-2", "Perfect, thank you so much!"),)),
    # assigned (blue), by email: taken, a private comment, an email reply
    IssueStory("grace.kim@example.com", "cus_grace", (
        Inbound("grace-1", "Hello, I dropped off a silk blouse on Monday (ticket B-2203). Were you able to get the "
                           "wine stain out?", subject="Wine stain on my silk blouse"),), steps=(
        ("bob", "take", None),
        ("bob", "comment", "Two spottings so far, still faint. Asking her before we try the solvent."),
        ("bob", "reply", "Hi Grace, the stain is much lighter but still faint. We can try one more treatment at no "
                         "charge; shall we go ahead?"),
    )),
    # closed (green): answered and closed; a thanks resolved with no action needed
    IssueStory("+14155550105", "cus_luis", (Inbound("luis-1", "Hi, are my shirts done? Ticket C-3310."),), steps=(
        ("bob", "take", None),
        ("bob", "reply", "Hi Luis, yes: 5 shirts, pressed and on rack R-4. Balance $17.50. See you soon!"),
        ("bob", "close", None),
    )),
    IssueStory("+14155550102", "cus_omar", (
        Inbound("omar-1", "Can you shorten the sleeves on my grey suit jacket?"),), steps=(
        ("alice", "reply", "Yes, we can: $25, ready in 3 days. Bring it in any time before 6pm."),
        ("alice", "comment", "Quoted the standard sleeve price."),
        ("alice", "close", None),
    )),
    IssueStory("+14155550101", "cus_jane", (Inbound("jane-1", "Got my coat, thanks!"),), steps=(
        ("carol", "resolve", None),
    )),
)


@dataclass
class DemoTenant:
    """Everything seeded, for printing and for tests."""

    tenant_id: str = TENANT_ID
    staff: tuple[DemoStaff, ...] = STAFF
    secrets: ProviderSecrets = field(default_factory=ProviderSecrets)


def seed(*, gateway_url: str, admin_token: str, tenant_id: str = TENANT_ID,
         secrets: ProviderSecrets | None = None, life: bool = True) -> DemoTenant:
    """Create the demo tenant, its staff and customers, and (`life`) a day's worth of its work (idempotent)."""
    secrets = secrets or ProviderSecrets()
    headers = {"authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=15) as client:
        _ok(client.put(f"/api/admin/tenants/{tenant_id}",
                       json={"name": TENANT_NAME, "providers": provider_settings(secrets)}))
        for member in STAFF:
            _ok(client.put(
                f"/api/admin/tenants/{tenant_id}/staff/{member.username}",
                json={"display_name": member.display_name, "role": member.role, "password": PASSWORD},
            ))
        for customer in customers():
            _put_customer(client, tenant_id=tenant_id, customer=customer)
    if life:
        shop = simulate.Shop.from_secrets(secrets, gateway_url=gateway_url, tenant_id=tenant_id)
        with _Day(gateway_url=gateway_url, tenant_id=tenant_id, shop=shop) as day:
            day.live()
    return DemoTenant(tenant_id=tenant_id, secrets=secrets)


def provider_settings(secrets: ProviderSecrets) -> dict[str, Any]:
    """The `providers` part of the tenant's provisioning call (ingest checks it against its provider modules)."""
    return {
        "twilio": {"account_sid": secrets.twilio_account_sid, "auth_token": secrets.twilio_auth_token,
                   "phone_number": secrets.twilio_phone_number, "api_base_url": secrets.twilio_api_base_url},
        "mailgun": {"signing_key": secrets.mailgun_signing_key},
        "sendgrid": {"basic_auth_user": secrets.sendgrid_user, "basic_auth_password": secrets.sendgrid_password},
        "email": {"from_address": secrets.email_from, "smtp_host": secrets.smtp_host, "smtp_port": secrets.smtp_port},
    }


def _put_customer(client: httpx.Client, *, tenant_id: str, customer: dict[str, Any]) -> None:
    """Upsert one customer; a directory that takes no `orders` yet gets them in the account only."""
    body = {k: v for k, v in customer.items() if k != "customer_id"}
    url = f"/api/customers/{customer['customer_id']}"
    response = client.put(url, json=body, params={"tenant_id": tenant_id})
    if response.status_code == 422 and "orders" in response.text:
        orders = body.pop("orders")
        response = client.put(url, json={**body, "account": {**body["account"], "orders": orders}},
                              params={"tenant_id": tenant_id})
    _ok(response)


def _ok(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise RuntimeError(f"seeding failed: {response.request.method} {response.request.url} -> "
                           f"{response.status_code} {response.text[:300]}")


def _until(probe: Callable[[], T | None], *, what: str, timeout: float = SEED_TIMEOUT_SECONDS) -> T:
    """Poll `probe` until it returns something, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"seeding failed: {what} did not happen within {timeout:.0f}s")
        time.sleep(0.05)


class _Day:
    """The demo tenant's staff at work, each signed in through the gateway."""

    def __init__(self, *, gateway_url: str, tenant_id: str, shop: simulate.Shop) -> None:
        self.gateway_url = gateway_url
        self.tenant_id = tenant_id
        self.shop = shop
        self.clients: dict[str, httpx.Client] = {}
        self.staff_ids: dict[str, str] = {}

    def __enter__(self) -> "_Day":
        for member in STAFF:
            signed_in = httpx.post(f"{self.gateway_url}/api/session", timeout=15, json={
                "tenant": self.tenant_id, "username": member.username, "password": PASSWORD})
            _ok(signed_in)
            session = signed_in.json()
            self.staff_ids[member.username] = session["staff"]["staff_id"]
            self.clients[member.username] = httpx.Client(
                base_url=self.gateway_url, timeout=15, headers={"authorization": f"Bearer {session['token']}"})
        return self

    def __exit__(self, *_: object) -> None:
        for client in self.clients.values():
            client.close()

    def _key(self, key: str) -> str:
        """A stable id for one demo item of this tenant (two demo tenants of one deployment never share one)."""
        return hashlib.sha256(f"{self.tenant_id}:{key}".encode()).hexdigest()[:32]

    def live(self) -> None:
        """Customers write (their webhooks go first: the services work on them while chat is seeded), staff chat
        and keep templates, then staff work the issues."""
        self.send_customer_messages(ISSUES, follow_ups=False)
        self.chat()
        self.reply_templates()
        self.work_issues()
        self.send_customer_messages(ISSUES, follow_ups=True)
        for story in ISSUES:  # the day is seeded once everything customers wrote is on its issue
            if story.follow_up:
                _until(lambda story=story: self._find_issue(self.clients["bob"], story, follow_ups=True),
                       what=f"the follow-up of {story.messages[0].key!r}")

    # ---- customers write --------------------------------------------------------------------------------

    def send_customer_messages(self, stories: tuple[IssueStory, ...], *, follow_ups: bool) -> None:
        for story in stories:
            for message in story.follow_up if follow_ups else story.messages:
                self._send(story, message)

    def _send(self, story: IssueStory, message: Inbound) -> None:
        if "@" in story.address:
            sent = simulate.send_email(self.shop, from_address=story.address, subject=message.subject or "Question",
                                       text=message.text,
                                       message_id=f"<demo-{self._key(message.key)}@customer.invalid>")
        else:
            sent = simulate.send_sms(self.shop, from_number=story.address, text=message.text,
                                     sid=f"SM{self._key(message.key)}")
        if not sent.accepted:
            raise RuntimeError(f"seeding failed: the {sent.channel} webhook of {message.key!r} -> "
                               f"{sent.status_code} {sent.answer[:300]}")

    # ---- staff chat ---------------------------------------------------------------------------------------

    def chat(self) -> None:
        alice = self.clients["alice"]
        usernames = {m.username for m in STAFF}
        _until(lambda: usernames <= {s["username"] for s in alice.get("/api/chat/staff").json().get("staff", [])},
               what="chat knowing the demo staff")
        general = _until(lambda: next((c["conversation_id"] for c in alice.get("/api/chat/conversations").json().get(
            "conversations", []) if c["default"] == "general"), None), what="the general channel")
        channels = {"general": general}
        for name, topic in CHANNELS:
            channels[name] = self._channel(name, topic=topic)
        for n, (channel, author, text) in enumerate(CHANNEL_MESSAGES):
            self._post(author, channels[channel], text, key=f"channel-{n}")
        for n, (others, author, text) in enumerate(PRIVATE_MESSAGES):
            opened = self.clients[author].post("/api/chat/private", json={"staff_ids": list(others)})
            _ok(opened)
            self._post(author, opened.json()["conversation_id"], text, key=f"private-{n}")

    def _channel(self, name: str, *, topic: str) -> str:
        alice = self.clients["alice"]
        created = alice.post("/api/chat/channels", json={
            "name": name, "topic": topic, "member_ids": [m.username for m in STAFF if m.username != "alice"]})
        if created.status_code == 201:
            return created.json()["conversation_id"]
        if created.status_code != 409:
            _ok(created)
        listed = alice.get("/api/chat/channels", params={"include_archived": "true"})
        _ok(listed)
        found = next((c for c in listed.json()["channels"] if c["name"].casefold() == name.casefold()), None)
        if found is None:
            raise RuntimeError(f"seeding failed: #{name} exists but is not a public channel")
        if not found["is_member"]:
            _ok(alice.post(f"/api/chat/channels/{found['conversation_id']}/join"))
        return found["conversation_id"]

    def _post(self, author: str, conversation_id: str, text: str, *, key: str) -> None:
        posted = self.clients[author].post(f"/api/chat/conversations/{conversation_id}/messages",
                                           json={"text": text, "client_message_id": f"demo-{self._key(key)}"})
        if posted.status_code == 403:  # left the channel since: join again, as the demo has them in it
            _ok(self.clients[author].post(f"/api/chat/channels/{conversation_id}/join"))
            posted = self.clients[author].post(f"/api/chat/conversations/{conversation_id}/messages",
                                               json={"text": text, "client_message_id": f"demo-{self._key(key)}"})
        if posted.status_code == 409:  # archived since: leave it so
            return
        _ok(posted)

    # ---- quick replies ---------------------------------------------------------------------------------

    def reply_templates(self) -> None:
        """The manager's two quick replies, where this deployment keeps reply templates (skipped where it does not)."""
        alice = self.clients["alice"]
        for template_id, name, body in REPLY_TEMPLATES:
            saved = alice.put(f"/api/reply-templates/{template_id}", json={"name": name, "body": body})
            if saved.status_code in (404, 405):
                return
            if saved.status_code >= 300:
                log.warning("demo reply template %s not saved: %s %s", template_id, saved.status_code,
                            saved.text[:200])

    # ---- staff work the issues ---------------------------------------------------------------------------

    def work_issues(self) -> None:
        bob = self.clients["bob"]
        issue_ids = {story.messages[0].key: _until(lambda story=story: self._find_issue(bob, story),
                                                   what=f"the issue of {story.messages[0].key!r}")
                     for story in ISSUES}
        for story in ISSUES:
            if story.steps:
                self._work(story, issue_ids[story.messages[0].key])

    def _find_issue(self, client: httpx.Client, story: IssueStory, *, follow_ups: bool = False) -> str | None:
        """The issue the story's first message opened, with each of its messages on (and the follow-ups), or None
        while they are on their way."""
        listed = client.get("/api/issues", params={"limit": 200})
        if listed.status_code != 200:
            return None
        messages = (*story.messages, *(story.follow_up if follow_ups else ()))
        texts_written = {m.text for m in messages}
        candidates = [issue for issue in listed.json()["issues"]
                      if (issue["customer_id"] == story.customer_id if story.customer_id
                          else issue.get("unknown_contact"))]
        candidates.sort(key=lambda issue: issue.get("summary") not in texts_written)  # the likeliest first
        for candidate in candidates:
            detail = client.get(f"/api/issues/{candidate['issue_id']}")
            if detail.status_code != 200:
                continue
            texts = {(entry.get("issue_id"), entry.get("text")) for entry in detail.json().get("communication", [])
                     if entry.get("kind") == "customer_message"}
            opened = next((issue_id for issue_id, text in texts if text == story.messages[0].text), None)
            if opened and all((opened, m.text) in texts for m in messages):
                return opened
        return None

    def _work(self, story: IssueStory, issue_id: str) -> None:
        """Staff's steps on the issue, unless someone worked on it already (a second seed leaves it as it is)."""
        detail = self.clients["alice"].get(f"/api/issues/{issue_id}")
        _ok(detail)
        issue = detail.json()["issue"]
        touched = issue["status"] != "unassigned" or any(
            entry.get("issue_id") == issue_id and entry.get("kind") != "customer_message"
            for entry in detail.json().get("communication", []))
        if touched:
            return
        for actor, action, argument in story.steps:
            client = self.clients[actor]
            path = f"/api/issues/{issue_id}"
            if action == "assign":
                assignee = self.staff_ids[argument or actor]
                _until(lambda: client.post(f"{path}/assign", json={"assignee_id": assignee}).status_code == 200,
                       what=f"assigning {issue_id} to {argument}")
            elif action in ("comment", "reply"):
                _ok(client.post(f"{path}/{'comments' if action == 'comment' else 'replies'}", json={"text": argument}))
            else:  # take, close, resolve
                _until(lambda action=action: client.post(f"{path}/{action}").status_code == 200,
                       what=f"{action} of {issue_id}")
