"""``SmsGateway``: the one seam between Lantern and an SMS provider.

Two implementations, chosen by ``LANTERN_SMS_BACKEND``: ``console`` (records in memory and
prints a masked line; the embedded default) and ``twilio`` (the official client). Errors are
sorted into two kinds the sending job acts on: ``TransientSmsError`` (try again later: 5xx,
429, timeouts, connection failures) and ``PermanentSmsError`` (trying again cannot help: 4xx
such as 21610 opted out, 21211 invalid number, 422 refused by the contract).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Protocol
from urllib.request import getproxies

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from core.crypto import random_token
from core.errors import ConfigurationError
from core.settings import Settings

log = logging.getLogger(__name__)

# Twilio's own HTTP client logs request lines at INFO; they name account and message SIDs only,
# but nothing of Twilio's goes to our JSON logs unless it is a warning.
_twilio_http_log = logging.getLogger("lantern.twilio_http")
_twilio_http_log.setLevel(logging.WARNING)

TIMEOUT_SECONDS = 10.0
#: Texts one worker process hands to the provider at once (each waits on its answer).
MAX_CONCURRENT_SENDS = 64


class SmsError(Exception):
    """A send or update failed; ``code`` is the provider's error code, when it gave one."""

    def __init__(self, reason: str, code: int | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status


class TransientSmsError(SmsError):
    """Try again later (5xx, 429, timeout, connection refused)."""


class PermanentSmsError(SmsError):
    """Trying again cannot help (opted out, invalid number, refused request)."""


class SmsGateway(Protocol):
    def send(self, to_e164: str, body: str, status_callback_url: str | None) -> str:
        """Hand one SMS to the provider; returns the provider's message id."""
        ...

    def redact(self, provider_sid: str) -> None:
        """Blank the stored body of a sent message at the provider."""
        ...


def mask_number(e164: str) -> str:
    """Enough of a number for a developer to tell two test phones apart, no more."""
    return "***" + e164[-2:] if len(e164) >= 2 else "***"


@dataclass(frozen=True)
class SentSms:
    sid: str
    to: str
    body: str
    status_callback_url: str | None


@dataclass
class ConsoleSmsGateway:
    """Development gateway: keeps what was sent in memory and prints a masked line.

    The printed line carries the last two digits and the length only: a developer's terminal
    or CI log is still a log, and logs never carry numbers or message text.
    """

    sent: list[SentSms] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    echo: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, to_e164: str, body: str, status_callback_url: str | None) -> str:
        sid = "SMconsole" + random_token(16).replace("-", "x").replace("_", "y")[:24]
        with self._lock:
            self.sent.append(SentSms(sid, to_e164, body, status_callback_url))
        if self.echo:
            print(f"console sms to {mask_number(to_e164)}: {len(body)} chars")
        log.info("sms recorded", extra={"event": "sms_console_recorded", "provider_sid": sid})
        return sid

    def redact(self, provider_sid: str) -> None:
        with self._lock:
            self.redacted.append(provider_sid)
            self.sent = [
                SentSms(s.sid, s.to, "", s.status_callback_url) if s.sid == provider_sid else s
                for s in self.sent
            ]


def _classify(exc: TwilioRestException) -> SmsError:
    status = int(exc.status or 0)
    code = int(exc.code) if isinstance(exc.code, int) else None
    if status >= 500 or status == 429 or status == 0:
        return TransientSmsError(f"provider_{status}", code, status)
    return PermanentSmsError(f"provider_{code or status}", code, status)


class TwilioSmsGateway:
    """Sends through the official ``twilio`` client (``http_client`` is injectable for tests)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str = "",
        from_number: str = "",
        api_base_url: str = "",
        http_client: HttpClient | None = None,
    ) -> None:
        if not messaging_service_sid and not from_number:
            raise ConfigurationError("Twilio needs a Messaging Service SID or a from-number")
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number
        if http_client is None:
            http_client = TwilioHttpClient(timeout=TIMEOUT_SECONDS, logger=_twilio_http_log)
            if http_client.session is not None:
                # requests scans the whole environment for proxy settings on every request: a
                # real cost in a burst. With no proxy or CA bundle configured there is nothing
                # to find.
                http_client.session.trust_env = bool(
                    getproxies()
                    or os.environ.get("REQUESTS_CA_BUNDLE")
                    or os.environ.get("CURL_CA_BUNDLE")
                )
                # As many kept-alive connections as texts sent at once (the default keeps
                # ten and opens, then discards, one per extra send).
                adapter = HTTPAdapter(pool_maxsize=MAX_CONCURRENT_SENDS)
                http_client.session.mount("https://", adapter)
                http_client.session.mount("http://", adapter)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        if api_base_url:
            # edge/region cannot reach loopback; the domain's base URL can.
            self.client.api.base_url = api_base_url.rstrip("/")

    def send(self, to_e164: str, body: str, status_callback_url: str | None) -> str:
        kwargs: dict[str, str] = {"to": to_e164, "body": body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self.from_number
        if status_callback_url:
            kwargs["status_callback"] = status_callback_url
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise _classify(exc) from None
        except (requests.Timeout, requests.ConnectionError, TimeoutError, ConnectionError):
            raise TransientSmsError("timeout_or_connection") from None
        except TwilioException:
            raise TransientSmsError("provider_unreadable") from None
        if not message.sid:
            raise TransientSmsError("provider_no_sid")
        return str(message.sid)

    def redact(self, provider_sid: str) -> None:
        try:
            self.client.messages(provider_sid).update(body="")
        except TwilioRestException as exc:
            raise _classify(exc) from None
        except (requests.Timeout, requests.ConnectionError, TimeoutError, ConnectionError):
            raise TransientSmsError("timeout_or_connection") from None
        except TwilioException:
            raise TransientSmsError("provider_unreadable") from None


def gateway_from_settings(settings: Settings, http_client: HttpClient | None = None) -> SmsGateway:
    """The gateway ``LANTERN_SMS_BACKEND`` names."""
    if settings.sms_backend == "console":
        return ConsoleSmsGateway(echo=settings.env != "test")
    if settings.sms_backend == "twilio":
        if not settings.twilio_account_sid or not settings.twilio_auth_token:
            raise ConfigurationError("LANTERN_SMS_BACKEND=twilio needs the Twilio account settings")
        return TwilioSmsGateway(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            from_number=settings.twilio_from_number,
            api_base_url=settings.twilio_api_base_url,
            http_client=http_client,
        )
    raise ConfigurationError("LANTERN_SMS_BACKEND must be console or twilio")
