"""Ingest's rules: contacts, SMS keywords, secrets shown back, attachment ids, retry delays. No I/O here."""

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

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


STOP_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# "YES" re-subscribes only someone who opted out: from anyone else it is an ordinary answer.
START_WORDS_WHEN_OPTED_OUT = frozenset({"YES"})


def sms_keyword(text: str, *, opted_out: bool) -> Keyword | None:
    """The keyword a whole SMS body is (case, spaces and end punctuation ignored), if any."""
    word = " ".join(text.strip().rstrip(".!").upper().split())
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


def attachment_id_for(*, tenant_id: str, provider: str, provider_message_id: str, index: int) -> str:
    """A stable id for the n-th file of a message, so a provider's retry stores it once."""
    return "att_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{provider}/{provider_message_id}/{index}").hex


def attachment_url(*, customer_id: str, attachment_id: str) -> str:
    """Where staff fetch a stored attachment (through the gateway's /api/customers routes)."""
    return f"/api/customers/{customer_id}/attachments/{attachment_id}"


# --- outbound -------------------------------------------------------------------------------------


def backoff_delays(*, attempts: int, first: float) -> list[float]:
    """Delays before each retry: doubling from `first`, capped at 30 s."""
    return [min(first * 2**n, 30.0) for n in range(max(attempts - 1, 0))]


def webhook_path(*, tenant_id: str, provider: str, hook: str) -> str:
    """Where a provider posts one kind of webhook for one tenant."""
    return f"/webhooks/{tenant_id}/{provider}/{hook}"
