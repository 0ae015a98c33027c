"""Recognising pure acknowledgements, so the UI can offer Resolve first."""

from datetime import UTC, datetime

import pytest
from relay_issues.domain import attention_of, is_acknowledgement
from relay_issues.models import Issue

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", [
    "ok", "Okay", "thanks!", "Thank you", "👍", "yes thank you", "k", "great, thanks", "cool", "Thanks!! 🙏",
    "👍🏽", "ok 👍", "that's great, thank you so much", "Perfect, see you then.", "got it", "❤️",
])
def test_acknowledgements_need_no_answer(text: str) -> None:
    assert is_acknowledgement(text) is True


@pytest.mark.parametrize("text", [
    "thanks, but the shirt is torn", "yes, can you deliver on Tuesday?", "ok?", "no", "", "   ", "you",
    "ok see you at 5", "Thanks. Also my coat has a stain", "😡", "great thanks 👎", "Is my suit ready",
])
def test_messages_that_ask_or_say_something_are_not_acknowledgements(text: str) -> None:
    assert is_acknowledgement(text) is False


def _message(text: str) -> dict:
    return {"kind": "customer_message", "entry_id": f"ent_{text}", "at": AT, "text": text, "channel": "sms",
            "from_address": "+14155550123", "to_address": "+15550100000", "inbound_message_id": f"msg_{text}",
            "acknowledgement": is_acknowledgement(text)}


_REPLY = {"kind": "reply", "entry_id": "ent_reply", "at": AT, "text": "Ready at 5", "author": {"id": "a", "name": "A"},
          "outbound_id": "out_1", "channel": "sms", "to_address": "+14155550123",
          "delivery": {"status": "queued", "at": AT}}


def _issue(status: str, timeline: list[dict]) -> Issue:
    return Issue.model_validate({"issue_id": "iss_1", "tenant_id": "t", "customer_id": "cus_1", "channel": "sms",
                                 "status": status, "opened_at": AT, "updated_at": AT, "timeline": timeline})


def test_resolve_is_suggested_only_when_every_message_since_the_last_reply_is_an_acknowledgement() -> None:
    question = _issue("unassigned", [_message("Is my suit ready?"), _message("thanks")])
    assert attention_of(question) == (True, False)
    answered = _issue("assigned", [_message("Is my suit ready?"), _REPLY])
    assert attention_of(answered) == (False, False)
    thanked = _issue("assigned", [_message("Is my suit ready?"), _REPLY, _message("great, thanks!")])
    assert attention_of(thanked) == (False, True)
    closed = _issue("closed", [_message("Is my suit ready?"), _REPLY, _message("great, thanks!")])
    assert attention_of(closed) == (False, False)
