"""The real sender: it connects to the checked address while the URL's host name stays in the
Host header and, for https, in SNI and the certificate check."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from coordination.webhooks_http import HttpWebhookSender

NAME = "hooks.partner.test"


def _cert(
    subject: str, issuer_key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None, ca: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    signer = key if issuer is None else issuer_key
    return builder.sign(signer, hashes.SHA256()), key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, str, list[str], list[str]]]:
    ca_cert, ca_key = _cert("Test CA", ec.generate_private_key(ec.SECP256R1()), None, True)
    leaf, leaf_key = _cert(NAME, ca_key, ca_cert.subject, False)
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "leaf.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    hosts: list[str] = []
    server_names: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            hosts.append(self.headers.get("host", ""))
            self.send_response(202)
            self.send_header("retry-after", "7")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)

    def remember(sock: object, name: str | None, ctx: object) -> None:
        server_names.append(name or "")

    context.sni_callback = remember
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], str(ca_path), hosts, server_names
    server.shutdown()
    server.server_close()


def test_https_connects_to_the_checked_ip_with_the_names_sni_and_certificate(
    tls_server: tuple[int, str, list[str], list[str]],
) -> None:
    port, ca, hosts, server_names = tls_server
    sender = HttpWebhookSender(ca_certs=ca)
    result = sender.send(
        f"https://{NAME}:{port}/in", "127.0.0.1", {"content-type": "application/json"}, b"{}", 5
    )
    assert result.status == 202
    assert result.headers["retry-after"] == "7"
    assert hosts == [f"{NAME}:{port}"]
    assert server_names == [NAME]


def test_https_refuses_a_certificate_for_another_name(
    tls_server: tuple[int, str, list[str], list[str]],
) -> None:
    port, ca, hosts, _ = tls_server
    sender = HttpWebhookSender(ca_certs=ca)
    with pytest.raises(ConnectionError):
        sender.send(f"https://other.partner.test:{port}/in", "127.0.0.1", {}, b"{}", 5)
    assert hosts == []


def test_https_refuses_an_untrusted_certificate(
    tls_server: tuple[int, str, list[str], list[str]],
) -> None:
    port, _, hosts, _ = tls_server
    with pytest.raises(ConnectionError):
        HttpWebhookSender().send(f"https://{NAME}:{port}/in", "127.0.0.1", {}, b"{}", 5)
    assert hosts == []


def test_no_answer_is_a_connection_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nobody listens
    with pytest.raises(ConnectionError):
        HttpWebhookSender().send(f"http://{NAME}:{port}/in", "127.0.0.1", {}, b"{}", 2)
