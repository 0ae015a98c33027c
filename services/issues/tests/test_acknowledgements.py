"""Recognising pure acknowledgements, so the UI can offer Resolve first."""

import pytest
from relay_issues.domain import attention_of, is_acknowledgement


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
    return {"kind": "customer_message", "text": text, "acknowledgement": is_acknowledgement(text)}


def test_resolve_is_suggested_only_when_every_message_since_the_last_reply_is_an_acknowledgement() -> None:
    question = {"status": "unassigned", "timeline": [_message("Is my suit ready?"), _message("thanks")]}
    assert attention_of(question) == (True, False)
    answered = {"status": "assigned", "timeline": [_message("Is my suit ready?"), {"kind": "reply"}]}
    assert attention_of(answered) == (False, False)
    thanked = {"status": "assigned", "timeline": [*answered["timeline"], _message("great, thanks!")]}
    assert attention_of(thanked) == (False, True)
    closed = {**thanked, "status": "closed"}
    assert attention_of(closed) == (False, False)
