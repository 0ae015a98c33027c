"""The audit log: each admin action and chat's manager actions recorded with who, what and when, read by the
tenant's admins only (admin token or a signed-in admin), never showing a secret or another tenant's entries."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from relay_contracts import new_event
from relay_contracts.chat import ChatMessageDeleted, ConversationKind, ConversationRef, ConversationUpdated
from relay_contracts.issues import StaffRef
from relay_gateway import domain, store
from relay_gateway.models import StaffAccountIn
from relay_kit.standin import StandInClient
from relay_stack.polling import eventually
from relay_stack.processes import ServiceProcess
from relay_stack.testing import EventPublisher

TWILIO_SECRET = "twilio-secret-never-in-the-log-1234"
PASSWORD = "correct-horse"


def _tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def _put_staff(gateway: ServiceProcess, admin: dict[str, str], tenant: str, username: str,
               **body: Any) -> dict[str, Any]:
    answer = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/{username}", json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _provision(gateway: ServiceProcess, admin: dict[str, str], tenant: str) -> None:
    answer = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"}, headers=admin)
    assert answer.status_code == 200, answer.text


def _audit(gateway: ServiceProcess, admin: dict[str, str], tenant: str, **params: Any) -> dict[str, Any]:
    answer = httpx.get(f"{gateway.url}/api/admin/tenants/{tenant}/audit", params=params, headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _sign_in(gateway: ServiceProcess, tenant: str, username: str) -> dict[str, str]:
    answer = httpx.post(f"{gateway.url}/api/session", json={"tenant": tenant, "username": username,
                                                            "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['token']}"}


ADMIN_ACTOR = {"id": "admin", "name": "admin (token)"}


def test_every_admin_action_is_recorded_with_who_what_and_when(
    gateway: ServiceProcess, admin: dict[str, str]
) -> None:
    tenant = _tenant()
    started = datetime.now(UTC) - timedelta(seconds=1)
    _provision(gateway, admin, tenant)
    dana = _put_staff(gateway, admin, tenant, "dana", display_name="Dana", role="staff", password=PASSWORD)
    _put_staff(gateway, admin, tenant, "dana", display_name="Dana Park", role="staff")
    _put_staff(gateway, admin, tenant, "dana", display_name="Dana Park", role="manager")
    _put_staff(gateway, admin, tenant, "dana", display_name="Dana Park", role="manager", password="another-horse")
    assert httpx.delete(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana/sessions",
                        headers=admin).status_code == 200
    totp = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana/totp", headers=admin)
    assert totp.status_code == 200
    assert httpx.delete(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana/totp",
                        headers=admin).status_code == 204
    _put_staff(gateway, admin, tenant, "dana", display_name="Dana Park", role="manager", active=False)
    _put_staff(gateway, admin, tenant, "dana", display_name="Dana Park", role="manager", active=True)
    renamed = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", headers=admin, json={
        "name": "Spotless Ltd", "providers": {"twilio": {"account_sid": "AC1", "auth_token": TWILIO_SECRET}}})
    assert renamed.status_code == 200, renamed.text
    unchanged = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless Ltd"}, headers=admin)
    assert unchanged.status_code == 200

    page = _audit(gateway, admin, tenant)
    entries = list(reversed(page["entries"]))  # oldest first
    assert [e["action"] for e in entries] == [
        "tenant.created", "staff.created", "staff.changed", "staff.role_changed", "staff.password_reset",
        "staff.sessions_ended", "staff.totp_set", "staff.totp_removed", "staff.deactivated", "staff.reactivated",
        "tenant.settings_changed",
    ]
    assert page["next_before"] is None
    for entry in entries:
        assert entry["actor"] == ADMIN_ACTOR
        assert started <= datetime.fromisoformat(entry["at"]) <= datetime.now(UTC)
        assert set(entry) == {"entry_id", "at", "actor", "action", "target", "detail"}
    staff_entries = [e for e in entries if e["action"].startswith("staff.")]
    assert {e["target"]["id"] for e in staff_entries} == {dana["staff_id"]}
    assert all(e["target"]["kind"] == "staff" for e in staff_entries)
    assert entries[2]["detail"]["display_name"] == {"from": "Dana", "to": "Dana Park"}
    assert entries[3]["detail"]["role"] == {"from": "staff", "to": "manager"}
    settings_changed = entries[-1]
    assert settings_changed["target"] == {"kind": "tenant", "id": tenant, "name": "Spotless Ltd"}
    assert settings_changed["detail"] == {"name": {"from": "Spotless", "to": "Spotless Ltd"}, "providers": ["twilio"]}
    text = json.dumps(page)
    for secret in (TWILIO_SECRET, PASSWORD, "another-horse", "argon2", totp.json()["secret"]):
        assert secret not in text


def test_pages_go_from_newest_to_oldest_and_bad_input_is_refused(gateway: ServiceProcess,
                                                                  admin: dict[str, str]) -> None:
    tenant = _tenant()
    _provision(gateway, admin, tenant)
    for n in range(5):
        _put_staff(gateway, admin, tenant, f"s{n}", display_name=f"Staff {n}", password=PASSWORD)
    first = _audit(gateway, admin, tenant, limit=2)
    second = _audit(gateway, admin, tenant, limit=2, before=first["next_before"])
    third = _audit(gateway, admin, tenant, limit=2, before=second["next_before"])
    names = [e["target"]["name"] for page in (first, second, third) for e in page["entries"]]
    assert names == ["Staff 4", "Staff 3", "Staff 2", "Staff 1", "Staff 0", "Spotless"]
    assert third["next_before"] is None
    url = f"{gateway.url}/api/admin/tenants/{tenant}/audit"
    assert httpx.get(url, params={"limit": 201}, headers=admin).status_code == 422
    assert httpx.get(url, params={"limit": 0}, headers=admin).status_code == 422
    assert httpx.get(url, params={"before": "x'; drop"}, headers=admin).status_code == 422
    assert httpx.get(url, params={"before": "aud_nothing"}, headers=admin).status_code == 400
    assert httpx.get(url).status_code == 403
    assert httpx.get(f"{gateway.url}/api/admin/tenants/ghost-co/audit", headers=admin).status_code == 404


def test_only_the_tenants_own_admins_read_its_log(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    mine, theirs = _tenant(), _tenant()
    for tenant in (mine, theirs):
        _provision(gateway, admin, tenant)
        _put_staff(gateway, admin, tenant, "boss", display_name=f"Boss of {tenant}", role="admin", password=PASSWORD)
        _put_staff(gateway, admin, tenant, "mgr", display_name="Manager", role="manager", password=PASSWORD)
    boss = _sign_in(gateway, mine, "boss")
    answer = httpx.get(f"{gateway.url}/api/audit", headers=boss)
    assert answer.status_code == 200, answer.text
    targets = {e["target"]["name"] for e in answer.json()["entries"]}
    assert f"Boss of {mine}" in targets and f"Boss of {theirs}" not in targets
    assert theirs not in json.dumps(answer.json())
    # a before cursor from another tenant's log names nothing here
    other_entry = _audit(gateway, admin, theirs)["entries"][0]["entry_id"]
    assert httpx.get(f"{gateway.url}/api/audit", params={"before": other_entry}, headers=boss).status_code == 400
    manager = _sign_in(gateway, mine, "mgr")
    assert httpx.get(f"{gateway.url}/api/audit", headers=manager).status_code == 403
    assert httpx.get(f"{gateway.url}/api/audit").status_code == 401


def _conversation(name: str, *, archived: bool = False) -> ConversationRef:
    return ConversationRef(conversation_id=f"cnv_{uuid.uuid4().hex[:8]}", kind=ConversationKind.CHANNEL, name=name,
                           archived=archived)


async def test_chat_manager_actions_are_recorded_once_per_event(
    gateway: ServiceProcess, admin: dict[str, str], kafka_bootstrap: str
) -> None:
    tenant = _tenant()
    _provision(gateway, admin, tenant)
    manager, author = StaffRef(id="stf_manager", name="Mia Manager"), StaffRef(id="stf_author", name="Al Author")
    general = _conversation("general")
    by_manager = new_event(ChatMessageDeleted(conversation=general, message_id="msg_1", seq=7, actor=manager,
                                              author_id=author.id), tenant_id=tenant, producer="chat")
    own = new_event(ChatMessageDeleted(conversation=general, message_id="msg_2", seq=8, actor=author,
                                       author_id=author.id), tenant_id=tenant, producer="chat")
    renamed = new_event(ConversationUpdated(conversation=_conversation("renamed"), actor=manager),
                        tenant_id=tenant, producer="chat")
    archived = new_event(ConversationUpdated(conversation=_conversation("old-news", archived=True), actor=manager),
                         tenant_id=tenant, producer="chat")
    publisher = EventPublisher(kafka_bootstrap)
    try:
        for event in (by_manager, own, renamed, by_manager, archived, archived):  # redeliveries: same event ids
            await publisher.publish(event)
        # one more manager deletion behind the others under each conversation's key: once both are recorded,
        # every copy before them was consumed
        markers = [new_event(ChatMessageDeleted(conversation=conversation, message_id=f"msg_last_{n}", seq=9,
                                                actor=manager, author_id=author.id), tenant_id=tenant, producer="chat")
                   for n, conversation in enumerate((general, archived.payload.conversation))]
        for marker in markers:
            await publisher.publish(marker)

        async def recorded() -> list[dict[str, Any]]:
            entries = _audit(gateway, admin, tenant)["entries"]
            seen = {e["target"]["id"] for e in entries}
            return entries if {"msg_last_0", "msg_last_1"} <= seen else []

        entries = await eventually(recorded, timeout=60, what="the chat actions in the audit log")
    finally:
        await publisher.close()
    chat_entries = [e for e in entries if e["action"].startswith("chat.")]
    assert sorted((e["action"], e["target"]["id"]) for e in chat_entries) == sorted([
        ("chat.message_deleted", "msg_1"), ("chat.message_deleted", "msg_last_0"),
        ("chat.message_deleted", "msg_last_1"),
        ("chat.channel_archived", archived.payload.conversation.conversation_id)])
    deleted = next(e for e in chat_entries if e["target"]["id"] == "msg_1")
    assert deleted["actor"] == {"id": manager.id, "name": manager.name}
    assert deleted["detail"]["author_id"] == author.id
    at = by_manager.occurred_at
    assert datetime.fromisoformat(deleted["at"]) == at.replace(microsecond=at.microsecond // 1000 * 1000)
    archive = next(e for e in chat_entries if e["action"] == "chat.channel_archived")
    assert archive["target"]["name"] == "old-news" and archive["target"]["kind"] == "channel"


def test_one_save_that_is_several_actions_records_each(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    tenant = _tenant()
    _provision(gateway, admin, tenant)
    _put_staff(gateway, admin, tenant, "ben", display_name="Ben", password=PASSWORD)
    _put_staff(gateway, admin, tenant, "ben", display_name="Benjamin", role="admin", password="new-password-1",
               active=False)
    actions = [e["action"] for e in _audit(gateway, admin, tenant, limit=4)["entries"]]
    assert actions == ["staff.password_reset", "staff.deactivated", "staff.role_changed", "staff.changed"]


async def test_entries_written_with_a_change_reach_the_log_even_when_the_process_died_before_moving_them(
    start_gateway: Any, kafka_bootstrap: str, admin: dict[str, str], tmp_path: Path
) -> None:
    """A staff change and its audit entries are one write; what a dead process left on the staff document is
    moved to the log when the gateway starts again on the same data folder."""
    tenant = _tenant()
    client = StandInClient(data_dir=tmp_path)
    database = client["relay_gateway"]
    await store.save_tenant(database, tenant_id=tenant, name="Spotless")
    account = domain.account_to_save(existing=None, tenant_id=tenant, username="eve",
                                     change=StaffAccountIn(display_name="Eve", password=PASSWORD))
    audit = domain.staff_saved_audit(existing=None, saved=account, password_given=True,
                                     actor=domain.ADMIN_TOKEN_ACTOR, at=datetime.now(UTC))
    assert await store.save_staff(database, account=account, events=[], audit=audit)
    await client.close()  # "killed" right after the write, before the entries were moved

    gateway = start_gateway(kafka_bootstrap=kafka_bootstrap, env={"RELAY_DATA_DIR": str(tmp_path)})
    try:
        entries = _audit(gateway, admin, tenant)["entries"]
        assert [(e["action"], e["target"]["id"]) for e in entries] == [("staff.created", account.staff_id)]
    finally:
        gateway.stop()
