"""The webhook HTTP sender: a small interface, a real urllib3 implementation and a fake.

The real sender connects to the address that the SSRF check approved, while keeping the URL's
host name in the ``Host`` header and (for https) in TLS SNI and certificate checks, so a second
DNS lookup can never send the request somewhere else. Redirects are not followed: a redirect
could lead anywhere, so a 3xx is simply a failed attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import certifi
import urllib3

MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class SendResult:
    status: int
    headers: dict[str, str]


class WebhookSender(Protocol):
    def send(
        self,
        url: str,
        resolved_ip: str,
        headers: dict[str, str],
        body: bytes,
        timeout: float,
    ) -> SendResult:
        """POST ``body`` to ``url`` through ``resolved_ip``; raises OSError-like on no answer."""
        ...


class HttpWebhookSender:
    """Real deliveries with urllib3, pinned to the checked address.

    ``ca_certs`` is the trust store for partners' certificates (certifi's by default; tests
    pass their own CA)."""

    def __init__(self, ca_certs: str | None = None) -> None:
        self.ca_certs = ca_certs or certifi.where()

    def send(
        self,
        url: str,
        resolved_ip: str,
        headers: dict[str, str],
        body: bytes,
        timeout: float,
    ) -> SendResult:
        parts = urllib3.util.parse_url(url)
        scheme = (parts.scheme or "https").lower()
        host = parts.host or ""
        port = parts.port or (443 if scheme == "https" else 80)
        default_port = 443 if scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        pool: urllib3.HTTPConnectionPool
        timeouts = urllib3.Timeout(connect=timeout, read=timeout)
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                resolved_ip,
                port,
                timeout=timeouts,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=self.ca_certs,
                server_hostname=host,
                assert_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(resolved_ip, port, timeout=timeouts, retries=False)
        try:
            response = pool.urlopen(
                "POST",
                parts.request_uri,
                body=body,
                headers={**headers, "Host": host_header},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                response.read(MAX_RESPONSE_BYTES)  # drain a little; partners' bodies are unused
            finally:
                response.release_conn()
            return SendResult(response.status, {k.lower(): v for k, v in response.headers.items()})
        except urllib3.exceptions.HTTPError as exc:
            raise ConnectionError(type(exc).__name__) from None
        finally:
            pool.close()


@dataclass
class SentRequest:
    url: str
    resolved_ip: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeWebhookSender:
    """Records every request and answers from a script (default 204) for unit tests."""

    sent: list[SentRequest] = field(default_factory=list)
    responses: list[SendResult | Exception] = field(default_factory=list)

    def send(
        self,
        url: str,
        resolved_ip: str,
        headers: dict[str, str],
        body: bytes,
        timeout: float,
    ) -> SendResult:
        self.sent.append(SentRequest(url, resolved_ip, dict(headers), body))
        if self.responses:
            answer = self.responses.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return SendResult(204, {})


def sender_from_settings(backend: str) -> WebhookSender:
    if backend == "fake":
        return FakeWebhookSender()
    return HttpWebhookSender()
