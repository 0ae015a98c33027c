"""Email replies through the tenant's SMTP relay (aiosmtplib), threaded with Message-ID / In-Reply-To / References."""

import aiosmtplib
from pydantic import Field

from relay_contracts.customer_messages import Channel, reply_subject
from relay_ingest.providers import mail
from relay_ingest.providers.base import (
    EmailSenderSettings,
    OutgoingMessage,
    PermanentSendError,
    Provider,
    Secret,
    SenderContext,
    SendReceipt,
    TransientSendError,
)

NAME = "smtp"


class SmtpSettings(EmailSenderSettings):
    """How replies by email leave: the sender address and the SMTP relay (the tenant's `email` section)."""

    smtp_host: str = Field(min_length=1, max_length=253)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, max_length=200)
    smtp_password: Secret | None = Field(default=None, max_length=200)
    smtp_starttls: bool | None = Field(default=None, description="None: use STARTTLS when the server offers it")


class SmtpSender:
    """Sends one email per reply; a 4xx or a lost connection is retried, a 5xx is final."""

    def __init__(self, context: SenderContext) -> None:
        self.timeout = context.timeout

    async def send(self, message: OutgoingMessage, *, settings: SmtpSettings) -> SendReceipt:
        assert message.email_message_id, "an email reply carries its Message-ID from the delivery log"
        email = mail.reply_message(
            from_address=settings.from_address, from_name=settings.from_name or message.business,
            to_address=message.to_address, subject=message.subject or reply_subject(None), text=message.text,
            message_id=message.email_message_id, in_reply_to=message.in_reply_to, references=message.references,
        )
        try:
            await aiosmtplib.send(
                email, hostname=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
                password=settings.smtp_password, start_tls=settings.smtp_starttls, use_tls=False, timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            if any(code >= 500 for code in codes):
                raise PermanentSendError(f"The mail server refused the recipient: {reason}", code=str(codes[0])) \
                    from None
            raise TransientSendError(f"The mail server deferred the recipient: {reason}") from None
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:
                raise PermanentSendError(f"The mail server refused the message: {error.code} {error.message}",
                                         code=str(error.code)) from None
            raise TransientSendError(f"The mail server deferred the message: {error.code} {error.message}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TransientSendError(f"Could not hand the email to {settings.smtp_host}: {type(error).__name__}.") \
                from None
        return SendReceipt(provider=NAME, provider_message_id=message.email_message_id, provider_status="sent")


PROVIDER = Provider(name=NAME, title="SMTP", channel=Channel.EMAIL, settings=SmtpSettings, section="email",
                    sender=SmtpSender)
