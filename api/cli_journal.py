"""``lantern journal verify``: check an exported journal offline, chain and signature.

The signature is checked against public keys the person verifying trusts: given on the command
line (``--key ID:BASE64URL``, or ``--key-file`` with a PEM key or a saved copy of
``GET /v1/evidence-keys``), or fetched once from a Lantern service (``--from URL``) and pinned
to a local file, which later runs use (trust on first use, like SSH's known hosts).

Exit codes (the README's commands table lists them too):
0 intact and signed by a trusted key; 1 the chain is broken (entries altered or missing, or
the zip carries something no link covers);
3 the signature does not match (altered after signing); 4 re-signed by a key that is not
trusted; 5 unsigned, or the signature was removed; 6 no trusted key could be had.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from core import crypto
from safety_plans import bundle
from safety_plans.bundle import TrustedKey, public_keys

EXIT_CHAIN_BROKEN = 1
EXIT_SIGNATURE_MISMATCH = 3
EXIT_RESIGNED = 4
EXIT_UNSIGNED = 5
EXIT_NO_TRUSTED_KEY = 6
KEYS_PATH = "/v1/evidence-keys"
_MAX_KEYS_DOCUMENT = 1_048_576
_FETCH_TIMEOUT_SECONDS = 10
PIN_FORMAT = "lantern-evidence-pins/1"


class TrustError(click.ClickException):
    exit_code = EXIT_NO_TRUSTED_KEY


@click.group("journal")
def journal() -> None:
    """Evidence journal exports."""


@journal.command("verify")
@click.argument("bundle_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="ID:BASE64URL",
    help="A trusted public key, as published at /v1/evidence-keys (repeatable).",
)
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trusted public key as PEM, or a saved copy of /v1/evidence-keys.",
)
@click.option(
    "--from",
    "source_url",
    metavar="URL",
    help="A Lantern service: its keys are fetched once and pinned, then the pin is used.",
)
@click.option(
    "--pin-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where --from pins keys (default: lantern/evidence-keys.json in your config folder).",
)
@click.option("--repin", is_flag=True, help="With --from: fetch again and replace the pin.")
def journal_verify(
    bundle_file: str,
    keys: tuple[str, ...],
    key_file: Path | None,
    source_url: str | None,
    pin_file: Path | None,
    repin: bool,
) -> None:
    """Check an exported journal offline: every entry against the chain, and the chain's
    signature against a trusted key. Exit codes: 0 intact and signed by a trusted key,
    1 chain broken, 3 signature does not match, 4 re-signed by an untrusted key, 5 unsigned,
    6 no trusted key."""
    trusted: list[TrustedKey] | None = None
    no_trust: TrustError | None = None
    try:
        trusted = _trusted_keys(keys, key_file, source_url, pin_file, repin)
    except TrustError as exc:
        # The chain is still checked and reported: only the signature's verdict is missing.
        no_trust = exc
    report = bundle.verify(bundle_file, trusted)
    for who, reason in report.problems:
        click.echo(f"{who}: {reason}", err=True)
    codes = {
        bundle.FORGED: EXIT_SIGNATURE_MISMATCH,
        bundle.RESIGNED: EXIT_RESIGNED,
        bundle.UNSIGNED: EXIT_UNSIGNED,
    }
    seal = report.seal
    if seal.status in codes:
        click.echo(f"journal NOT VERIFIED: {seal.status}: {seal.detail}", err=True)
        if seal.status == bundle.RESIGNED and source_url:
            click.echo(
                "If the service rotated its signing key since the pin, confirm the new key "
                "with it by another channel, then run again with --repin.",
                err=True,
            )
        sys.exit(codes[seal.status])
    if report.problems:
        click.echo(f"journal verification FAILED: {len(report.problems)} problem(s)", err=True)
        sys.exit(EXIT_CHAIN_BROKEN)
    if no_trust is not None:
        click.echo(f"chain intact: {report.checked} chain links verified", err=True)
        click.echo(f"signature NOT checked: {no_trust.message}", err=True)
        sys.exit(EXIT_NO_TRUSTED_KEY)
    click.echo(f"journal intact: {report.checked} chain links verified, {seal.detail}")


def _trusted_keys(
    keys: tuple[str, ...],
    key_file: Path | None,
    source_url: str | None,
    pin_file: Path | None,
    repin: bool,
) -> list[TrustedKey]:
    trusted: list[TrustedKey] = []
    for text in keys:
        key_id, sep, value = text.partition(":")
        try:
            public = crypto.b64decode(value)
        except ValueError:
            public = b""
        if not sep or not key_id or len(public) != crypto.KEY_BYTES:
            raise TrustError(f"--key {text!r} is not ID:BASE64URL of a 32-byte public key")
        trusted.append((key_id, public))
    if key_file is not None:
        trusted.extend(_read_key_file(key_file))
    if source_url:
        trusted.extend(_pinned(source_url, pin_file or default_pin_file(), repin))
    if not trusted:
        raise TrustError("no trusted key: give --key, --key-file or --from")
    return trusted


def _read_key_file(path: Path) -> list[TrustedKey]:
    data = path.read_bytes()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            # A PEM key names no key id: it is trusted under whichever id a bundle names.
            return [(None, crypto.evidence_public_from_pem(data))]
        return public_keys(json.loads(data))
    except ValueError as exc:
        raise TrustError(f"{path}: {exc}") from None


# --- trust on first use -----------------------------------------------------------------------


def default_pin_file() -> Path:
    return Path(click.get_app_dir("lantern")) / "evidence-keys.json"


def _pinned(url: str, path: Path, repin: bool) -> list[TrustedKey]:
    keys_url = _keys_url(url)
    pins = _read_pins(path)
    pin = pins.get(keys_url)
    if pin is not None and not repin:
        try:
            keys = public_keys(pin)
        except ValueError as exc:
            raise TrustError(f"{path}: the pin for {keys_url} is damaged: {exc}") from None
        click.echo(
            f"using the evidence keys pinned from {keys_url} on {pin.get('fetched_at')} ({path})"
        )
        return keys
    try:
        document = json.loads(_fetch(keys_url))
        keys = public_keys(document)  # checked before anything is pinned
    except ValueError as exc:
        raise TrustError(f"{keys_url} did not answer with evidence keys: {exc}") from None
    pins[keys_url] = {
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "keys": [
            {
                "key_id": kid,
                "algorithm": crypto.EVIDENCE_ALGORITHM,
                "public_key": crypto.b64encode(k),
            }
            for kid, k in keys
        ],
    }
    _write_pins(path, pins)
    click.echo(
        f"fetched {len(keys)} evidence key(s) from {keys_url} and pinned them in {path}; "
        "later runs use this pin (trust on first use: confirm the key ids with the service "
        "by another channel)"
    )
    return keys


def _keys_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise TrustError(f"--from {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(host):
        # Keys fetched over plain HTTP could be anyone's: the pin would trust a forger.
        raise TrustError("--from must be an https:// URL (plain http only on loopback)")
    path = parts.path.rstrip("/")
    if not path.endswith(KEYS_PATH):
        path += KEYS_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead from https to http, or to another host: refused, not followed.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _fetch(url: str) -> bytes:
    opener = urllib.request.build_opener(_NoRedirects())
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked in _keys_url
    try:
        with opener.open(request, timeout=_FETCH_TIMEOUT_SECONDS) as response:
            body: bytes = response.read(_MAX_KEYS_DOCUMENT + 1)
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        raise TrustError(f"could not fetch the evidence keys from {url}: {exc}") from None
    if len(body) > _MAX_KEYS_DOCUMENT:
        raise TrustError(f"{url} answered with more than {_MAX_KEYS_DOCUMENT} bytes")
    return body


def _read_pins(path: Path) -> dict[str, Any]:
    # A dict: the pins as read from a file anyone may have edited, by keys URL; each pin is
    # checked by ``public_keys`` before a key in it is trusted.
    if not path.exists():
        return {}
    try:
        pins = json.loads(path.read_text())["pins"]
        if not isinstance(pins, dict):
            raise TypeError
        return pins
    except (OSError, ValueError, KeyError, TypeError):
        raise TrustError(f"{path} is not a readable pin file") from None


def _write_pins(path: Path, pins: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"format": PIN_FORMAT, "pins": pins}, indent=2, sort_keys=True))
    os.replace(tmp, path)
