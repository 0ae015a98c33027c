"""Ingest wiring: provider adapters, webhook and directory routes, the outbound consumer, the outbox."""

import httpx
from fastapi import FastAPI

from relay_contracts.customer_messages import Channel
from relay_ingest import api, consumers, flows, store
from relay_ingest.providers.mailgun import MailgunInbound
from relay_ingest.providers.sendgrid import SendGridInbound
from relay_ingest.providers.smtp import SmtpSender
from relay_ingest.providers.twilio import TwilioSender, TwilioSms, TwilioStatus
from relay_ingest.settings import IngestSettings
from relay_kit.service import Runtime, service_app
from relay_kit.store import apply_indexes


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    """The ingest app: webhooks in, inbound.messages and delivery.status out, outbound.messages consumed."""
    settings = settings or IngestSettings()
    runtime = Runtime(settings)
    outbox = runtime.use_outbox(store.OUTBOX_COLLECTIONS)
    client = httpx.AsyncClient(timeout=settings.send_timeout_seconds)
    runtime.on_stop.append(client.aclose)
    desk = flows.Desk(
        database=runtime.database, outbox=outbox, settings=settings,
        senders={
            Channel.SMS: TwilioSender(client=client, timeout=settings.send_timeout_seconds),
            Channel.EMAIL: SmtpSender(timeout=settings.send_timeout_seconds),
        },
    )
    consumers.register(runtime, desk=desk)
    webhooks = api.webhook_router(
        inbound=[TwilioSms(), SendGridInbound(), MailgunInbound(max_skew_seconds=settings.mailgun_max_skew_seconds)],
        status=[TwilioStatus()],
    )

    async def prepare(database: object) -> None:
        await apply_indexes(database, store.INDEXES)

    app = service_app(runtime, title="Relay ingest", routers=[api.tenants, api.customers, webhooks], prepare=prepare)
    app.state.desk = desk
    return app
