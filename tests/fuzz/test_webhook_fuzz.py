"""Hypothesis-generated provider webhooks posted to the gateway's public URLs: never a 5xx, refusals store nothing.

Each provider's webhook gets bodies in its own shape (Twilio and Mailgun form posts, SendGrid multipart or form,
Telnyx JSON) with every field generated: arbitrary text, numbers that are and are not phone numbers, media counts
that are not numbers, JSON that is not the expected shape. Forged ones (a wrong key, a stale or missing signature,
wrong credentials) must all be refused with a 4xx and leave the tenant's issue feed and customer directory exactly
as they were; correctly signed ones may be accepted or refused, never answered 5xx, and whatever they store must
come from one that was accepted.
"""

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import hypothesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from relay_stack.signing import mailgun_signature, twilio_signature
from tests.fuzz.conftest import FuzzBudget, FuzzTenant

TIMEOUT = 30

# Text as providers and attackers send it: any code point but lone surrogates (which no UTF-8 body carries).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
SHORT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
HEADER_VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)  # HTTP-safe
FIELD_NAMES = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=20)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | SHORT,
                    lambda children: st.lists(children, max_size=5) | st.dictionaries(SHORT, children, max_size=5),
                    max_leaves=20)


def _unique_number(_: object = None) -> str:
    """A US number no earlier case used, so whatever it stores can be told apart."""
    digits = uuid.uuid4().int
    return f"+1{2 + digits % 8}{digits // 8 % 10**9:09d}"


def numbers() -> st.SearchStrategy[str]:
    """A phone number that is one (fresh each time), or text that may or may not read as one."""
    return st.one_of(st.builds(_unique_number), SHORT, st.from_regex(r"\+?[0-9 ()\-.]{0,20}", fullmatch=True))


def emails() -> st.SearchStrategy[str]:
    """An email address that is one (fresh each time), or text."""
    return st.one_of(st.builds(lambda: f"{uuid.uuid4().hex[:12]}@customers.example"), SHORT,
                     st.builds(lambda name: f"{name} <{uuid.uuid4().hex[:8]}@customers.example>", SHORT))


def extra_fields() -> st.SearchStrategy[dict[str, str]]:
    """Fields a provider may add (or an attacker may) that Relay does not know."""
    return st.dictionaries(FIELD_NAMES, SHORT, max_size=4)


@dataclass(frozen=True)
class Post:
    """One generated webhook: where it goes, what it carries, and the sender it names (to trace what it stored)."""

    path: str
    sender: str
    data: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    multipart: bool = False

    def send(self, tenant: FuzzTenant) -> httpx.Response:
        url = tenant.webhook_url(self.path)
        if self.multipart and self.data is not None:
            files = {name: (None, value.encode("utf-8")) for name, value in self.data.items()}
            return httpx.post(url, files=files, headers=self.headers, timeout=TIMEOUT)
        if self.data is not None:
            return httpx.post(url, data=self.data, headers=self.headers, timeout=TIMEOUT)
        return httpx.post(url, content=self.content, headers=self.headers, timeout=TIMEOUT)

    def describe(self) -> str:
        body = self.data if self.data is not None else (self.content or b"")[:300]
        return f"POST /webhooks/<tenant>/{self.path} headers={self.headers!r} body={body!r}"[:900]


# --- each provider's webhooks, generated --------------------------------------------------------------------


@st.composite
def twilio_sms(draw: st.DrawFn, tenant: FuzzTenant, *, forged: bool) -> Post:
    sender = draw(numbers())
    form = {"From": sender, "To": draw(st.sampled_from([tenant.secrets.twilio_phone_number]) | SHORT),
            "Body": draw(TEXT), "MessageSid": draw(st.builds(lambda: "SM" + uuid.uuid4().hex) | SHORT),
            "AccountSid": draw(st.just(tenant.secrets.twilio_account_sid) | SHORT),
            "NumMedia": draw(st.sampled_from(["0", "1", "2", "-1", "99999999999999999999", "", "x"]))}
    for index in range(draw(st.integers(0, 2))):
        form[f"MediaUrl{index}"] = draw(st.sampled_from(["https://api.twilio.com/media/ME1"]) | SHORT)
        form[f"MediaContentType{index}"] = draw(st.sampled_from(["image/jpeg", ""]) | SHORT)
    form.update(draw(extra_fields()))
    form = {name: value for name, value in form.items() if draw(st.integers(0, 9)) > 0}  # a field may be missing
    return Post("twilio/sms", sender=sender, data=form, headers=_twilio_headers(draw, tenant, "twilio/sms", form,
                                                                                forged=forged))


@st.composite
def twilio_status(draw: st.DrawFn, tenant: FuzzTenant, *, forged: bool) -> Post:
    form = {"MessageSid": draw(st.builds(lambda: "SM" + uuid.uuid4().hex) | SHORT),
            "MessageStatus": draw(st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed"]) | SHORT),
            "ErrorCode": draw(st.sampled_from(["", "30003", "x"]) | SHORT),
            "AccountSid": tenant.secrets.twilio_account_sid, **draw(extra_fields())}
    return Post("twilio/status", sender="", data=form,
                headers=_twilio_headers(draw, tenant, "twilio/status", form, forged=forged))


def _twilio_headers(draw: st.DrawFn, tenant: FuzzTenant, path: str, form: dict[str, str], *,
                    forged: bool) -> dict[str, str]:
    if not forged:
        return {"X-Twilio-Signature": twilio_signature(url=tenant.webhook_url(path), params=form,
                                                       auth_token=tenant.secrets.twilio_auth_token)}
    how = draw(st.sampled_from(["other-token", "other-url", "missing", "garbage"]))
    if how == "missing":
        return {}
    if how == "garbage":
        return {"X-Twilio-Signature": draw(HEADER_VALUE)}
    url = tenant.webhook_url(path) + ("" if how == "other-token" else "?forged=1")
    token = "not-the-tenants-token" if how == "other-token" else tenant.secrets.twilio_auth_token
    return {"X-Twilio-Signature": twilio_signature(url=url, params=form, auth_token=token)}


@st.composite
def mailgun(draw: st.DrawFn, tenant: FuzzTenant, *, forged: bool) -> Post:
    sender = draw(emails())
    headers_field = draw(st.one_of(st.builds(json.dumps, st.lists(st.tuples(SHORT, SHORT), max_size=5)),
                                   st.builds(json.dumps, JSON), SHORT,
                                   st.builds(lambda depth: "[" * depth, st.integers(1, 3000))))  # nesting
    form = {"sender": sender, "recipient": draw(st.just(tenant.secrets.email_from) | SHORT),
            "from": draw(st.just(sender) | SHORT), "subject": draw(SHORT), "body-plain": draw(TEXT),
            "stripped-text": draw(TEXT), "Message-Id": f"<{uuid.uuid4().hex}@mail.example>",
            "In-Reply-To": draw(SHORT), "References": draw(SHORT), "message-headers": headers_field,
            **draw(extra_fields())}
    form = {name: value for name, value in form.items() if draw(st.integers(0, 9)) > 0}
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    key = tenant.secrets.mailgun_signing_key
    how = draw(st.sampled_from(["other-key", "stale", "future", "missing", "garbage"])) if forged else "right"
    if forged:
        if how == "other-key":
            key = "not-the-tenants-key"
        elif how in ("stale", "future"):
            timestamp = str(int(time.time()) + (-3600 if how == "stale" else 3600))
    signature = mailgun_signature(timestamp=timestamp, token=token, signing_key=key)
    if how == "garbage":
        signature = draw(SHORT)
    if how != "missing":
        form.update({"timestamp": timestamp, "token": token, "signature": signature})
    return Post("mailgun/inbound", sender=sender, data=form, multipart=draw(st.booleans()))


@st.composite
def sendgrid(draw: st.DrawFn, tenant: FuzzTenant, *, forged: bool) -> Post:
    sender = draw(emails())
    envelope = draw(st.one_of(st.builds(lambda s: json.dumps({"from": s, "to": [tenant.secrets.email_from]}),
                                        st.just(sender)), st.builds(json.dumps, JSON), SHORT))
    form = {"from": sender, "to": draw(st.just(tenant.secrets.email_from) | SHORT), "subject": draw(SHORT),
            "text": draw(TEXT), "html": draw(TEXT), "envelope": envelope,
            "headers": draw(st.builds(lambda mid: f"Message-ID: <{mid}@mail.example>\r\n", st.uuids()) | TEXT),
            **draw(extra_fields())}
    form = {name: value for name, value in form.items() if draw(st.integers(0, 9)) > 0}
    user, password = tenant.secrets.sendgrid_user, tenant.secrets.sendgrid_password
    headers: dict[str, str] = {}
    how = draw(st.sampled_from(["other-password", "missing", "garbage"])) if forged else "right"
    if how in ("right", "other-password"):
        secret = f"{user}:{password if how == 'right' else 'not-the-password'}"
        headers["authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    elif how == "garbage":
        headers["authorization"] = "Basic " + draw(HEADER_VALUE)
    return Post("sendgrid/inbound", sender=sender, data=form, headers=headers, multipart=draw(st.booleans()))


@st.composite
def telnyx(draw: st.DrawFn, tenant: FuzzTenant, *, forged: bool) -> Post:
    sender = draw(numbers())
    payload = {"id": draw(st.builds(lambda: str(uuid.uuid4())) | JSON),
               "from": draw(st.builds(lambda n: {"phone_number": n}, st.just(sender)) | JSON),
               "to": draw(st.just([{"phone_number": tenant.telnyx_phone_number, "status": "webhook_delivered"}])
                          | JSON),
               "text": draw(TEXT | JSON), "media": draw(st.just([]) | JSON)}
    payload = {name: value for name, value in payload.items() if draw(st.integers(0, 9)) > 0}
    event = {"data": {"event_type": draw(st.sampled_from(["message.received", "message.sent", "message.finalized"])
                                         | SHORT), "id": str(uuid.uuid4()), "payload": payload}}
    body = draw(st.one_of(st.just(json.dumps(event)), st.builds(json.dumps, JSON), TEXT)).encode("utf-8")
    key = tenant.telnyx_key
    timestamp = str(int(time.time()))
    headers = {"content-type": "application/json"}
    how = draw(st.sampled_from(["other-key", "stale", "missing", "garbage"])) if forged else "right"
    if how == "other-key":
        key = Ed25519PrivateKey.generate()
    elif how == "stale":
        timestamp = str(int(time.time()) - 3600)
    if how != "missing":
        signature = base64.b64encode(key.sign(timestamp.encode() + b"|" + body)).decode()
        headers.update({"telnyx-timestamp": timestamp,
                        "telnyx-signature-ed25519": draw(HEADER_VALUE) if how == "garbage" else signature})
    return Post("telnyx/sms", sender=sender, content=body, headers=headers)


PROVIDERS: dict[str, Callable[..., st.SearchStrategy[Post]]] = {
    "twilio-sms": twilio_sms, "twilio-status": twilio_status, "mailgun": mailgun, "sendgrid": sendgrid,
    "telnyx": telnyx,
}


# --- running them --------------------------------------------------------------------------------------------


@dataclass
class Answers:
    """What the gateway answered the generated webhooks."""

    accepted: list[Post] = field(default_factory=list)
    refused: list[Post] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


def _post_all(tenant: FuzzTenant, budget: FuzzBudget, *, forged: bool) -> Answers:
    answers = Answers()
    for name, provider in PROVIDERS.items():

        @settings(max_examples=budget.examples * 4, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.seed(budget.seed)
        @given(post=provider(tenant, forged=forged))
        def send(post: Post) -> None:
            response = post.send(tenant)
            answers.statuses[response.status_code] = answers.statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                answers.server_errors.append(f"{post.describe()}\n    -> {response.status_code} {response.text[:300]}")
            elif response.status_code < 300:
                answers.accepted.append(post)
            else:
                answers.refused.append(post)

        send()
    print(f"\n{'forged' if forged else 'signed'} webhooks (RELAY_FUZZ_SEED={budget.seed}): {answers.statuses}")
    return answers


def _traceable(post: Post) -> str | None:
    """The sender of a post if it is one of the fresh numbers or addresses generated, that nothing else uses."""
    if re.fullmatch(r"\+1[2-9][0-9]{9}", post.sender):
        return post.sender
    address = re.fullmatch(r"(?:.* <)?([0-9a-f]{8,12}@customers\.example)>?", post.sender, re.DOTALL)
    return address.group(1) if address else None


def _stored_by(tenant: FuzzTenant, posts: list[Post], *, accepted: list[Post]) -> list[str]:
    """The refused posts whose sender the customer directory now knows (none, if refusals store nothing)."""
    accepted_senders = {_traceable(post) for post in accepted}
    return [f"{post.describe()}\n    -> customers {found}" for post in posts
            if (sender := _traceable(post)) and sender not in accepted_senders
            and (found := tenant.customers_matching(sender))]


def _without(stored: dict[str, list[tuple]], barrier: set[str]) -> dict[str, list[tuple]]:
    """What is stored, less the barrier SMS's customer and issue."""
    return {"issues": [i for i in stored["issues"] if i[1] not in barrier],
            "customers": [c for c in stored["customers"] if c[0] not in barrier]}


def _check_no_5xx(answers: Answers, budget: FuzzBudget) -> None:
    assert not answers.server_errors, (
        f"{len(answers.server_errors)} generated webhooks answered 5xx (RELAY_FUZZ_SEED={budget.seed}):\n"
        + "\n".join(answers.server_errors[:20]))


def test_forged_webhooks_are_all_refused_and_store_nothing(hooks_tenant: FuzzTenant, fuzz_budget: FuzzBudget) -> None:
    hooks_tenant.refresh_sessions()
    before = hooks_tenant.stored()
    answers = _post_all(hooks_tenant, fuzz_budget, forged=True)
    barrier = set(hooks_tenant.customers_matching(hooks_tenant.barrier()))
    after = _without(hooks_tenant.stored(), barrier)

    _check_no_5xx(answers, fuzz_budget)
    assert not answers.accepted, "forged webhooks were accepted:\n" + "\n".join(p.describe()
                                                                               for p in answers.accepted[:10])
    assert after == before, "a refused webhook stored something"
    stored_by_refused = _stored_by(hooks_tenant, answers.refused, accepted=[])
    assert not stored_by_refused, "refused webhooks stored customers:\n" + "\n".join(stored_by_refused[:10])


def test_signed_webhooks_never_answer_5xx_and_only_accepted_ones_store(hooks_tenant: FuzzTenant,
                                                                        fuzz_budget: FuzzBudget) -> None:
    hooks_tenant.refresh_sessions()
    before = hooks_tenant.stored()
    answers = _post_all(hooks_tenant, fuzz_budget, forged=False)
    barrier = set(hooks_tenant.customers_matching(hooks_tenant.barrier()))
    after = _without(hooks_tenant.stored(), barrier)

    _check_no_5xx(answers, fuzz_budget)
    assert answers.accepted, "no generated webhook was accepted: the fuzz reached no handler past the signature"
    stored_by_refused = _stored_by(hooks_tenant, answers.refused, accepted=answers.accepted)
    assert not stored_by_refused, "refused webhooks stored customers:\n" + "\n".join(stored_by_refused[:10])
    new_issues = {issue[0] for issue in after["issues"]} - {issue[0] for issue in before["issues"]}
    assert len(new_issues) <= len(answers.accepted), "more new issues than accepted webhooks"
