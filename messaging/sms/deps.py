"""What the SMS outbox and Twilio's webhooks need besides a session and a clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.hooks import Hook
from core.vault import Vault
from messaging.sms.gateway import SmsGateway
from messaging.sms.hooks import InboundSmsClaim, InboundSmsRouter, SmsFailureListener


@dataclass
class SmsDeps:
    #: Twilio, or the console gateway in development (chosen by settings).
    gateway: SmsGateway
    vault: Vault
    #: Where Twilio posts delivery statuses; empty in development (no callbacks).
    public_base_url: str = ""
    #: Blank a delivered text's body at the provider (LANTERN_TWILIO_REDACT).
    redact: bool = False
    failure_listeners: Hook[SmsFailureListener] = field(default_factory=lambda: Hook("sms_failure"))
    inbound_routers: Hook[InboundSmsRouter] = field(default_factory=lambda: Hook("inbound_sms"))
    inbound_claims: Hook[InboundSmsClaim] = field(
        default_factory=lambda: Hook("inbound_sms_claims")
    )
