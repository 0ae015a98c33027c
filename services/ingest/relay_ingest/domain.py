"""Ingest's rules: contacts, SMS keywords, secrets shown back, attachment ids, reply templates, retry delays.

No I/O here.
"""

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import phonenumbers

from relay_contracts.customer_messages import Channel

CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$"
_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s<>()\[\],;:\"]+@{_LABEL}(?:\.{_LABEL})+$")


# --- what a message may weigh -------------------------------------------------------------------

MAX_SMS_TEXT_CHARS = 10_000
"""Far beyond any carrier's SMS/MMS text (Twilio delivers at most 1,600 characters): anything longer is not one."""
MAX_MESSAGE_TEXT_BYTES = 500_000
"""The most text one message may carry (UTF-8): its event must fit the broker's 1 MB message limit."""


def oversize_reason(*, channel: Channel, text: str, subject: str | None = None) -> str | None:
    """Why a customer's message is too large to record and announce, or None when it fits."""
    if channel == Channel.SMS and len(text) > MAX_SMS_TEXT_CHARS:
        return (f"The text is {len(text)} characters: no carrier delivers an SMS over {MAX_SMS_TEXT_CHARS} "
                "characters.")
    size = len(text.encode("utf-8", "surrogatepass")) + len((subject or "").encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_TEXT_BYTES:
        return f"The message text is {size} bytes; at most {MAX_MESSAGE_TEXT_BYTES} are recorded."
    return None


# --- contacts -------------------------------------------------------------------------------------


class ContactKind(StrEnum):
    """How a customer can be reached: each address belongs to at most one customer of a tenant."""

    PHONE = "phone"
    EMAIL = "email"


def normalise_phone(raw: str, *, region: str) -> str:
    """A phone number in E.164 (`+14155550101`); ValueError if it is not a possible number."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """An email address, trimmed and lower-cased; ValueError if it is not one address."""
    address = raw.strip().strip("<>").strip().lower()
    if not _EMAIL.match(address):
        raise ValueError(f"{raw!r} is not an email address")
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{raw!r} has a domain that cannot be encoded") from None
    return f"{local}@{domain}"


def check_country(raw: str) -> str:
    """A tenant's country: an ISO 3166 alpha-2 code phone numbers are known for ("US", "GB"); ValueError if not."""
    code = raw.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{raw!r} is not an ISO 3166 alpha-2 country code (such as US, CA or GB).")
    return code


def contact_kind_for(channel: Channel) -> ContactKind:
    """SMS comes from a phone, email from an email address."""
    return ContactKind.PHONE if channel == Channel.SMS else ContactKind.EMAIL


def contact_field(kind: ContactKind) -> str:
    """The customer's list an address of this kind is kept in."""
    return "phones" if kind == ContactKind.PHONE else "emails"


def check_customer_id(customer_id: str) -> str:
    """A customer id is the point-of-sale system's own key: letters, digits and `_.:@-`."""
    if not _CUSTOMER_ID.match(customer_id):
        raise ValueError("A customer id is 1-100 letters, digits, '_', '.', ':', '@' or '-', "
                         "starting with a letter or digit.")
    return customer_id


def new_customer_id() -> str:
    """Id for a customer first met through a message (an unknown contact)."""
    return f"cus_{uuid.uuid4().hex[:16]}"


def new_message_id() -> str:
    """Ingest's id for an inbound message."""
    return f"msg_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Contacts:
    """A customer's normalised phone numbers and email addresses."""

    phones: list[str]
    emails: list[str]

    def pairs(self) -> list[tuple[ContactKind, str]]:
        """Every address with its kind, phones first."""
        return [(ContactKind.PHONE, p) for p in self.phones] + [(ContactKind.EMAIL, e) for e in self.emails]


def normalise_contacts(*, phones: list[str], emails: list[str], region: str) -> Contacts:
    """Phones in E.164 and emails lower-cased, duplicates dropped; ValueError naming the bad one."""
    return Contacts(phones=list(dict.fromkeys(normalise_phone(p, region=region) for p in phones)),
                    emails=list(dict.fromkeys(normalise_email(e) for e in emails)))


# --- providers ------------------------------------------------------------------------------------


def chosen_sender(*, choice: str, named: str | None, set_up: list[str]) -> str | None:
    """Which provider sends a tenant's replies on a channel: the one named (it must be set up), else the only one."""
    if named is None:
        if len(set_up) > 1:
            raise ValueError(f"{' and '.join(set_up)} are both set up: say which one sends with {choice}.")
        return set_up[0] if set_up else None
    if named not in set_up:
        raise ValueError(f"{choice} is {named}, but {named} is not set up.")
    return named


# --- secrets --------------------------------------------------------------------------------------


def masked(secret: str) -> str:
    """A provider secret as it is shown back: never whole, the last four characters of a long one."""
    return "****" + secret[-4:] if len(secret) > 8 else "****"


# --- SMS keywords (what carriers require) ---------------------------------------------------------


class Keyword(StrEnum):
    """An SMS that changes the customer's subscription or asks for help, not a message to staff."""

    STOP = "stop"
    START = "start"
    HELP = "help"


# Twilio's Advanced Opt-Out defaults, matched on the whole message with case and spaces ignored ("Opt out" = OPTOUT).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# "YES" re-subscribes only someone who opted out: from anyone else it is an ordinary answer.
START_WORDS_WHEN_OPTED_OUT = frozenset({"YES"})


def sms_keyword(text: str, *, opted_out: bool) -> Keyword | None:
    """The keyword a whole SMS body is (case, spaces and end punctuation ignored), if any."""
    word = "".join(text.strip().rstrip(".!").upper().split())
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS or (opted_out and word in START_WORDS_WHEN_OPTED_OUT):
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


def keyword_reply(keyword: Keyword, *, business: str) -> str:
    """The confirmation a carrier expects in answer to a keyword."""
    if keyword == Keyword.STOP:
        return (f"You have been unsubscribed from {business} and will receive no more messages. "
                "Reply START to resubscribe.")
    if keyword == Keyword.START:
        return f"You have been resubscribed to {business} messages. Reply STOP to unsubscribe, HELP for help."
    return f"{business}: reply to this number to reach our staff. Reply STOP to unsubscribe. Msg&data rates may apply."


def opted_out_reason(phone: str) -> str:
    """Why a reply to an opted-out number is refused."""
    return (f"{phone} replied STOP and has opted out of SMS; it can be texted again only after the customer "
            "replies START. Reply by email or call instead.")


# --- attachments ----------------------------------------------------------------------------------


def attachment_id_for(*, tenant_id: str, provider: str, provider_message_id: str, index: int,
                      media: bool = False) -> str:
    """A stable id for the n-th file (or, with `media`, the n-th MMS media) of a message: a retry stores it once."""
    part = f"media-{index}" if media else str(index)
    return "att_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{provider}/{provider_message_id}/{part}").hex


def attachment_url(*, customer_id: str, attachment_id: str) -> str:
    """Where staff fetch a stored attachment (through the gateway's /api/customers routes)."""
    return f"/api/customers/{customer_id}/attachments/{attachment_id}"


INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/heic",
                          "image/heif", "image/avif"})
"""Pictures a browser shows in place (thumbnails, click to enlarge); every other file is served as a download."""


_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


def served_type(content_type: str) -> str:
    """The media type an attachment is served with: as it came when it is one, else a plain download."""
    media_type = content_type.split(";")[0].strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else "application/octet-stream"


def shown_inline(content_type: str) -> bool:
    """Whether an attachment is a picture shown in place (never SVG or HTML, which can carry script)."""
    return content_type.split(";")[0].strip().lower() in INLINE_TYPES


def as_stored(moment: datetime) -> datetime:
    """A time as MongoDB keeps it (milliseconds), so what an event says equals what is read back later."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# --- the directory: orders ------------------------------------------------------------------------

CLOSED_ORDER_STATUSES = frozenset({"picked up", "collected", "completed", "complete", "closed", "cancelled",
                                   "canceled", "delivered", "returned", "void"})
"""Order statuses (any case, `_` or `-` for spaces) that mean the customer has nothing waiting on the order."""


class OrderLike(Protocol):
    """What picking a customer's current order needs of an order."""

    status: str | None
    placed_at: datetime | None


O = TypeVar("O", bound=OrderLike)


def order_is_open(status: str | None) -> bool:
    """Whether an order with this status is still open (in the shop, or ready and waiting)."""
    return " ".join((status or "").lower().replace("_", " ").replace("-", " ").split()) not in CLOSED_ORDER_STATUSES


def current_order(orders: Sequence[O]) -> O | None:
    """The customer's most recent open order: the latest placed, else the last listed; None if none is open."""
    open_orders = [(n, order) for n, order in enumerate(orders) if order_is_open(order.status)]
    if not open_orders:
        return None
    oldest = datetime.min.replace(tzinfo=UTC)

    def recency(item: tuple[int, O]) -> tuple[datetime, int]:
        placed = item[1].placed_at
        if placed is not None and placed.tzinfo is None:
            placed = placed.replace(tzinfo=UTC)
        return placed or oldest, item[0]

    return max(open_orders, key=recency)[1]


MAX_MONEY = Decimal(10) ** 12


def money_amount(raw: Any) -> Decimal:
    """An amount of money from a number or text such as "12.5", "$1,012.50" or "-3"; ValueError if it is none."""
    if isinstance(raw, bool):
        raise ValueError("a balance is a number, not true or false")
    if isinstance(raw, int | float | Decimal):
        amount = Decimal(str(raw))
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "").replace(" ", "")
        negative = text.startswith("-") or (text.startswith("(") and text.endswith(")"))
        text = re.sub(r"^[-(]?[^\d.]*|\)$", "", text)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not an amount of money") from None
        amount = -amount if negative else amount
    else:
        raise ValueError(f"{raw!r} is not an amount of money")
    if not amount.is_finite() or abs(amount) >= MAX_MONEY:
        raise ValueError(f"{raw!r} is not an amount of money a customer owes")
    return amount.quantize(Decimal("0.01"))


def format_money(amount: Decimal) -> str:
    """A balance as customers read it: "$12.50", "-$3.00", "$1,012.50"."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def format_due_date(value: date) -> str:
    """A due date as a text reads it: "Tue, Nov 24"."""
    return f"{value:%a}, {value:%b} {value.day}"


# --- reply templates ------------------------------------------------------------------------------

TEMPLATE_VARIABLES = ("first_name", "last_name", "name", "ticket", "rack", "balance", "due_date", "order_status",
                      "shop_name")
"""What a reply template may ask for in `{braces}`, filled from the customer's account and current order."""
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
TEMPLATE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def template_variables(body: str) -> list[str]:
    """The variables a template's body names, in order of first use."""
    return list(dict.fromkeys(match.group(1).strip() for match in _PLACEHOLDER.finditer(body)))


def unknown_variables(body: str) -> list[str]:
    """The variables a template names that Relay cannot fill."""
    return [name for name in template_variables(body) if name not in TEMPLATE_VARIABLES]


def check_template_body(body: str) -> str:
    """A template body naming only known variables; ValueError naming the others and the known ones."""
    unknown = unknown_variables(body)
    if unknown:
        raise ValueError(f"Unknown variables: {', '.join('{' + name + '}' for name in unknown)}. A template can use "
                         f"{', '.join('{' + name + '}' for name in TEMPLATE_VARIABLES)}.")
    return body


def fill_template(body: str, *, values: Mapping[str, str | None]) -> tuple[str, list[str]]:
    """The template with every variable that has a value filled in; the others are left as written and listed."""
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        value = values.get(name)
        if value is None or not str(value).strip():
            if name not in missing:
                missing.append(name)
            return match.group(0)
        return str(value)

    return _PLACEHOLDER.sub(fill, body), missing


def _text_of(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = " ".join(str(value).split())
    return text or None


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """A person's first and last name from the whole ("Jane M. Doe" → Jane, Doe); a lone word is a first name."""
    words = (name or "").split()
    if not words:
        return None, None
    return words[0], (words[-1] if len(words) > 1 else None)


@dataclass(frozen=True)
class OrderFacts:
    """What a template can say about the customer's current order."""

    ticket: str | None = None
    rack: str | None = None
    balance: Decimal | None = None
    due_date: date | None = None
    status: str | None = None


def template_values(*, name: str | None, account: Mapping[str, Any], order: OrderFacts | None,
                    shop_name: str) -> dict[str, str | None]:
    """Each template variable's value for one customer: the current order first, then the account's own fields."""
    first, last = split_name(name)
    order = order or OrderFacts()
    balance: str | None = None
    raw_balance = order.balance if order.balance is not None else account.get("balance")
    if raw_balance is not None:
        try:
            balance = format_money(money_amount(raw_balance))
        except ValueError:
            balance = _text_of(raw_balance)
    due: str | None = format_due_date(order.due_date) if order.due_date else None
    if due is None and _text_of(account.get("due_date")):
        try:
            due = format_due_date(date.fromisoformat(str(account["due_date"]).strip()[:10]))
        except ValueError:
            due = _text_of(account.get("due_date"))
    return {
        "first_name": _text_of(account.get("first_name")) or first,
        "last_name": _text_of(account.get("last_name")) or last,
        "name": _text_of(name),
        "ticket": _text_of(order.ticket) or _text_of(account.get("ticket")),
        "rack": _text_of(order.rack) or _text_of(account.get("rack")),
        "balance": balance,
        "due_date": due,
        "order_status": _text_of(order.status) or _text_of(account.get("order_status")),
        "shop_name": _text_of(shop_name),
    }


# --- outbound -------------------------------------------------------------------------------------


def backoff_delays(*, attempts: int, first: float) -> list[float]:
    """Delays before each retry: doubling from `first`, capped at 30 s."""
    return [min(first * 2**n, 30.0) for n in range(max(attempts - 1, 0))]


def webhook_path(*, tenant_id: str, provider: str, hook: str) -> str:
    """Where a provider posts one kind of webhook for one tenant."""
    return f"/webhooks/{tenant_id}/{provider}/{hook}"
