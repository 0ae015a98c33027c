"""Every provider ingest speaks, each one module, registered here once.

Adding a provider is its module beside these (settings, signature check, parsing, status mapping, sender:
see `base.Provider`), one line below, and its tests: its tenant settings section, webhook routes and
sender follow from the registration.
"""

from relay_contracts.customer_messages import Channel
from relay_ingest.providers import mailgun, sendgrid, smtp, telnyx, twilio
from relay_ingest.providers.base import Provider

PROVIDERS: dict[str, Provider] = {provider.name: provider for provider in (
    twilio.PROVIDER,
    telnyx.PROVIDER,
    sendgrid.PROVIDER,
    mailgun.PROVIDER,
    smtp.PROVIDER,
)}


def senders_on(channel: Channel) -> tuple[str, ...]:
    """The providers that can send replies on a channel, by name."""
    return tuple(p.name for p in PROVIDERS.values() if p.channel == channel and p.sender is not None)
