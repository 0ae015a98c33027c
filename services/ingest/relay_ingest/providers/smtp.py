"""Email replies through the tenant's SMTP relay (aiosmtplib), threaded with Message-ID / In-Reply-To / References."""

from typing import Any, ClassVar

import aiosmtplib

from relay_contracts.customer_messages import Channel
from relay_ingest import domain, mail
from relay_ingest.domain import OutgoingMessage, SendReceipt
from relay_ingest.providers.base import provider_settings

NAME = "smtp"


class SmtpSender:
    """Sends one email per reply; a 4xx or a lost connection is retried, a 5xx is final."""

    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.EMAIL

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout

    def problem(self, tenant: dict[str, Any]) -> str | None:
        if not provider_settings(tenant, "email"):
            return "Email sending (from address and SMTP relay) is not set up for this tenant."
        return None

    async def send(self, message: OutgoingMessage, *, tenant: dict[str, Any]) -> SendReceipt:
        settings = provider_settings(tenant, "email") or {}
        assert message.email_message_id, "an email reply carries its Message-ID from the delivery log"
        business = (tenant.get("settings") or {}).get("name")
        email = mail.reply_message(
            from_address=settings["from_address"], from_name=settings.get("from_name") or business,
            to_address=message.to_address, subject=message.subject or domain.reply_subject(None), text=message.text,
            message_id=message.email_message_id, in_reply_to=message.in_reply_to, references=message.references,
        )
        try:
            await aiosmtplib.send(
                email, hostname=settings["smtp_host"], port=settings["smtp_port"],
                username=settings.get("smtp_username"), password=settings.get("smtp_password"),
                start_tls=settings.get("smtp_starttls"), use_tls=False, timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            if any(code >= 500 for code in codes):
                raise domain.PermanentSendError(f"The mail server refused the recipient: {reason}",
                                                code=str(codes[0])) from None
            raise domain.TransientSendError(f"The mail server deferred the recipient: {reason}") from None
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:
                raise domain.PermanentSendError(f"The mail server refused the message: {error.code} {error.message}",
                                                code=str(error.code)) from None
            raise domain.TransientSendError(f"The mail server deferred the message: {error.code} {error.message}") \
                from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise domain.TransientSendError(f"Could not hand the email to {settings['smtp_host']}: "
                                            f"{type(error).__name__}.") from None
        return SendReceipt(provider=NAME, provider_message_id=message.email_message_id, provider_status="sent")
