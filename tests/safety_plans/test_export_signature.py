"""Signed journal exports: a forger who recomputes every digest and link is still caught.

The chain proves order, not origin: anyone can rebuild a consistent chain around rewritten
text. The signature (Ed25519, by the service's evidence key) proves that Lantern produced the
manifest, and the manifest holds every link and digest. `lantern journal verify` names each
kind of failure with its own exit code.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from werkzeug.serving import make_server

from api.cli import main
from api.cli_journal import (
    EXIT_CHAIN_BROKEN,
    EXIT_NO_TRUSTED_KEY,
    EXIT_RESIGNED,
    EXIT_SIGNATURE_MISMATCH,
    EXIT_UNSIGNED,
)
from core.crypto import EvidenceKey, KeyRing, b64encode, evidence_public_from_pem
from core.runtime import Runtime
from safety_plans import bundle, chain
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party
from tests.safety_plans.test_export import EXPORT, _journal, key_options, trusted

KEYS_URL = "/v1/evidence-keys"


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def rechained_forgery(data: bytes, new_text: str = "Nothing happened.") -> dict[str, bytes]:
    """Rewrite the second entry's text, then recompute every digest, link and the head."""
    files = _files(data)
    manifest = json.loads(files["manifest.json"])
    entries = json.loads(files["entries.json"])
    entries[1]["content"]["description"] = new_text
    content = {e["id"]: e["content"] for e in entries}
    prev = chain.GENESIS
    for link in sorted(manifest["links"], key=lambda x: x["seq"]):
        if content.get(link["id"]) is not None:
            # Computed from the format, as a forger would (not with the verifier's helper).
            canonical = json.dumps(
                content[link["id"]], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
            link["content_digest"] = hashlib.sha256(canonical).hexdigest()
        link["prev_hash"] = prev
        fields = {name: link.get(name) for name in chain.LINK_FIELDS}
        canonical_link = json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        link["chain_hash"] = hashlib.sha256(prev.encode() + canonical_link).hexdigest()
        prev = link["chain_hash"]
    manifest["head"]["last_hash"] = prev
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    files["entries.json"] = json.dumps(entries, ensure_ascii=False).encode()
    return files


def resign(files: dict[str, bytes], key: EvidenceKey, claimed_key_id: str | None = None) -> bytes:
    """Sign the manifest with ``key``, as a forger with a key of their own would."""
    key_id = claimed_key_id or key.key_id
    manifest = json.loads(files["manifest.json"])
    manifest["signed_by"]["key_id"] = key_id
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signature = json.loads(files["signature.json"])
    signature.update(
        key_id=key_id,
        public_key=b64encode(key.public),
        signature=b64encode(key.sign(files["manifest.json"])),
    )
    files["signature.json"] = json.dumps(signature).encode()
    return _zip(files)


def _cli(tmp_path: Path, data: bytes, *options: str) -> Result:
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    return CliRunner().invoke(main, ["journal", "verify", str(path), *options])


@pytest.fixture
def exported(client: JsonClient, party: Party) -> bytes:
    _journal(client, party)
    r = client.get(EXPORT, headers=party.survivor_headers)
    assert r.status_code == 200
    return r.get_data()


def test_a_genuine_export_is_signed_by_the_current_key(exported: bytes, keyring: KeyRing) -> None:
    files = _files(exported)
    signature = json.loads(files["signature.json"])
    key = keyring.signing_key
    assert signature["key_id"] == key.key_id
    assert signature["algorithm"] == "Ed25519"
    assert signature["public_key"] == b64encode(key.public)  # the public half, by key id
    assert json.loads(files["manifest.json"])["signed_by"]["key_id"] == key.key_id
    assert bundle.verify(io.BytesIO(exported), trusted(keyring)).ok


def test_a_rechained_forgery_fails_as_signature_mismatch(
    exported: bytes, keyring: KeyRing, tmp_path: Path
) -> None:
    forged = _zip(rechained_forgery(exported))
    report = bundle.verify(io.BytesIO(forged), trusted(keyring))
    # The forgery is perfectly consistent: only the signature can tell.
    assert report.chain_ok, report.problems
    assert report.seal.status == bundle.FORGED
    assert not report.ok
    result = _cli(tmp_path, forged, *key_options(keyring))
    assert result.exit_code == EXIT_SIGNATURE_MISMATCH, result.output
    assert "signature does not match" in result.output
    assert "journal intact" not in result.output


@pytest.mark.parametrize("claims_lanterns_key_id", [False, True], ids=["own-id", "lantern-id"])
def test_a_forgery_re_signed_with_the_forgers_key_fails_as_re_signed(
    exported: bytes, keyring: KeyRing, tmp_path: Path, claims_lanterns_key_id: bool
) -> None:
    claimed = keyring.signing_key.key_id if claims_lanterns_key_id else None
    forged = resign(rechained_forgery(exported), EvidenceKey.generate("e-forger"), claimed)
    report = bundle.verify(io.BytesIO(forged), trusted(keyring))
    assert report.chain_ok
    assert report.seal.status == bundle.RESIGNED
    result = _cli(tmp_path, forged, *key_options(keyring))
    assert result.exit_code == EXIT_RESIGNED, result.output
    assert "re-signed: a valid signature by a key that is not trusted" in result.output


def _strip_signature_file(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if name != "signature.json"}


def _empty_signature(files: dict[str, bytes]) -> dict[str, bytes]:
    doc = json.loads(files["signature.json"])
    doc["signature"] = ""
    return files | {"signature.json": json.dumps(doc).encode()}


def _strip_everything(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = json.loads(files["manifest.json"])
    del manifest["signed_by"]
    stripped = _strip_signature_file(files)
    return stripped | {"manifest.json": json.dumps(manifest).encode()}


@pytest.mark.parametrize(
    "strip",
    [_strip_signature_file, _empty_signature, _strip_everything],
    ids=["file-removed", "signature-emptied", "every-trace-removed"],
)
@pytest.mark.parametrize("forge", [False, True], ids=["genuine", "rechained"])
def test_a_bundle_without_its_signature_fails_as_unsigned(
    exported: bytes,
    keyring: KeyRing,
    tmp_path: Path,
    strip: Callable[[dict[str, bytes]], dict[str, bytes]],
    forge: bool,
) -> None:
    files = rechained_forgery(exported) if forge else _files(exported)
    stripped = _zip(strip(files))
    report = bundle.verify(io.BytesIO(stripped), trusted(keyring))
    assert report.seal.status == bundle.UNSIGNED
    assert not report.ok
    result = _cli(tmp_path, stripped, *key_options(keyring))
    assert result.exit_code == EXIT_UNSIGNED, result.output
    assert "unsigned" in result.output


@pytest.mark.parametrize(
    "signature_json",
    [
        b"not json",
        b"[]",
        b'{"signature": 5, "key_id": "e1", "public_key": "x", "algorithm": "Ed25519"}',
        b'{"signature": "AAAA", "key_id": "e1", "public_key": "AAAA", "algorithm": "Ed25519"}',
        b'{"signature": "\\u0000\\ud800", "key_id": [], "public_key": null}',
    ],
    ids=["not-json", "a-list", "wrong-types", "short-values", "nul-and-surrogate"],
)
def test_a_mangled_signature_is_a_mismatch_not_a_crash(
    exported: bytes, keyring: KeyRing, tmp_path: Path, signature_json: bytes
) -> None:
    mangled = _zip(_files(exported) | {"signature.json": signature_json})
    assert bundle.verify(io.BytesIO(mangled), trusted(keyring)).seal.status == bundle.FORGED
    result = _cli(tmp_path, mangled, *key_options(keyring))
    assert result.exit_code == EXIT_SIGNATURE_MISMATCH, result.output


def test_an_export_signed_by_a_rotated_out_key_still_verifies(
    client: JsonClient, party: Party, runtime: Runtime, keyring: KeyRing, tmp_path: Path
) -> None:
    _journal(client, party)
    old_bundle = client.get(EXPORT, headers=party.survivor_headers).data
    old = keyring.signing_key
    # `lantern keys rotate --evidence`, then `lantern keys retire OLD`: the old key signs
    # nothing more and keeps only its public half, which stays published.
    rotated = keyring.with_new_evidence_key("e-next").retire_evidence_key(old.key_id)
    assert rotated.evidence_keys[1].private is None
    runtime.keyring = rotated
    new_bundle = client.get(EXPORT, headers=party.survivor_headers).data
    assert json.loads(_files(new_bundle)["signature.json"])["key_id"] == "e-next"

    published = client.get(KEYS_URL).json["keys"]
    assert [(k["key_id"], k["current"]) for k in published] == [
        ("e-next", True),
        (old.key_id, False),
    ]
    old_public = next(k for k in published if k["key_id"] == old.key_id)
    old_only = [f"--key={old.key_id}:{old_public['public_key']}"]
    result = _cli(tmp_path, old_bundle, *old_only)
    assert result.exit_code == 0, result.output
    assert f"signed by trusted key {old.key_id}" in result.output
    # The retired key's public half does not vouch for what the new key signed, and the other
    # way round: each bundle verifies with the key that signed it.
    assert _cli(tmp_path, new_bundle, *old_only).exit_code == EXIT_RESIGNED
    assert bundle.verify(io.BytesIO(new_bundle), trusted(rotated)).ok
    assert bundle.verify(io.BytesIO(old_bundle), trusted(rotated)).ok
    with pytest.raises(Exception, match="retired"):
        rotated.evidence_keys[1].sign(b"anything")


def test_evidence_keys_are_public_and_never_show_a_private_key(
    app: Flask, keyring: KeyRing
) -> None:
    ring = keyring.with_new_evidence_key("e-next")  # an older key that can still sign
    app.extensions["lantern"].keyring = ring
    client = JsonClient(app)
    r = client.get(KEYS_URL)  # no credentials at all
    assert r.status_code == 200, r.json
    assert r.headers["Cache-Control"] == "no-store"
    keys = r.json["keys"]
    assert [k["key_id"] for k in keys] == [k.key_id for k in ring.evidence_keys]
    assert [k["current"] for k in keys] == [True, False]
    for item, key in zip(keys, ring.evidence_keys, strict=True):
        assert set(item) == {"key_id", "algorithm", "public_key", "public_key_pem", "current"}
        assert item["algorithm"] == "Ed25519"
        assert item["public_key"] == b64encode(key.public)
        assert evidence_public_from_pem(item["public_key_pem"].encode()) == key.public
    text = r.get_data(as_text=True)
    for key in ring.evidence_keys:
        assert key.private is not None
        for form in (b64encode(key.private), key.private.hex(), key.private.decode("latin-1")):
            assert form not in text
    for _, secret in (*ring.keks, *ring.audit_keys, ("index", ring.index_key)):
        assert b64encode(secret) not in text
    # A bad credential does not turn a public answer into a 401.
    assert client.get(KEYS_URL, headers={"Authorization": "Bearer nonsense"}).status_code == 200


def test_a_decoy_sessions_export_is_signed_like_a_real_one(
    client: JsonClient, party: Party, keyring: KeyRing
) -> None:
    _journal(client, party)
    decoy = client.get(EXPORT, headers=party.decoy_headers)
    assert decoy.status_code == 200
    report = bundle.verify(io.BytesIO(decoy.data), trusted(keyring))
    assert report.ok
    assert report.checked == 0  # nothing real in it
    assert set(_files(decoy.data)) == {"manifest.json", "signature.json", "entries.json"}


def test_without_a_trusted_key_the_chain_is_checked_and_the_signature_is_not(
    exported: bytes, tmp_path: Path
) -> None:
    result = _cli(tmp_path, exported)
    assert result.exit_code == EXIT_NO_TRUSTED_KEY
    assert "chain intact: 6 chain links verified" in result.output
    assert "signature NOT checked" in result.output
    bad = _cli(tmp_path, exported, "--key=e1:not-a-key")
    assert bad.exit_code == EXIT_NO_TRUSTED_KEY
    # Even then, a broken chain is named as such.
    files = _files(exported)
    broken = files | {"entries.json": files["entries.json"].replace(b"entry 1", b"entry 9")}
    assert _cli(tmp_path, _zip(broken)).exit_code == EXIT_CHAIN_BROKEN


def test_a_pem_key_file_is_trusted_under_any_key_id(
    exported: bytes, client: JsonClient, keyring: KeyRing, tmp_path: Path
) -> None:
    pem = tmp_path / "lantern.pem"
    pem.write_text(client.get(KEYS_URL).json["keys"][0]["public_key_pem"])
    assert _cli(tmp_path, exported, f"--key-file={pem}").exit_code == 0
    forged = resign(rechained_forgery(exported), EvidenceKey.generate("e-forger"))
    assert _cli(tmp_path, forged, f"--key-file={pem}").exit_code == EXIT_RESIGNED
    saved = tmp_path / "keys.json"
    saved.write_bytes(client.get(KEYS_URL).data)
    assert _cli(tmp_path, exported, f"--key-file={saved}").exit_code == 0
    junk = tmp_path / "junk.json"
    junk.write_text('{"keys": [{"key_id": "e1", "algorithm": "RSA", "public_key": "AAAA"}]}')
    assert _cli(tmp_path, exported, f"--key-file={junk}").exit_code == EXIT_NO_TRUSTED_KEY


# --- trust on first use: fetched once from a Lantern URL, then pinned -----------------------


class Served:
    """The app on a loopback port, as a Lantern service the verifier can reach."""

    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._running = True

    def stop(self) -> None:
        if self._running:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._running = False


@pytest.fixture
def served(app: Flask) -> Iterator[Served]:
    server = Served(app)
    yield server
    server.stop()


def test_keys_fetched_once_are_pinned_and_later_runs_use_the_pin(
    exported: bytes, app: Flask, keyring: KeyRing, tmp_path: Path, served: Served
) -> None:
    pin = tmp_path / "pins.json"
    base = served.url
    first = _cli(tmp_path, exported, f"--from={base}", f"--pin-file={pin}")
    assert first.exit_code == 0, first.output
    assert f"fetched 1 evidence key(s) from {base}{KEYS_URL} and pinned them" in first.output
    pinned = json.loads(pin.read_text())["pins"][f"{base}{KEYS_URL}"]
    assert [k["key_id"] for k in pinned["keys"]] == [keyring.signing_key.key_id]

    # Later the service (or someone answering in its name) publishes another key: the pin
    # still decides, and says so.
    forger = EvidenceKey.generate("e-forger")
    app.extensions["lantern"].keyring = KeyRing(
        keks=keyring.keks, index_key=keyring.index_key, evidence_keys=(forger,)
    )
    forged = resign(rechained_forgery(exported), forger)
    second = _cli(tmp_path, forged, f"--from={base}/", f"--pin-file={pin}")
    assert second.exit_code == EXIT_RESIGNED, second.output
    assert f"using the evidence keys pinned from {base}{KEYS_URL}" in second.output
    assert "--repin" in second.output
    assert _cli(tmp_path, exported, f"--from={base}", f"--pin-file={pin}").exit_code == 0
    # --repin fetches again: only then is the new key trusted.
    repinned = _cli(tmp_path, forged, f"--from={base}", f"--pin-file={pin}", "--repin")
    assert repinned.exit_code == 0, repinned.output


def test_a_pinned_key_needs_no_network(exported: bytes, tmp_path: Path, served: Served) -> None:
    pin = tmp_path / "pins.json"
    assert _cli(tmp_path, exported, f"--from={served.url}", f"--pin-file={pin}").exit_code == 0
    served.stop()
    offline = _cli(tmp_path, exported, f"--from={served.url}", f"--pin-file={pin}")
    assert offline.exit_code == 0, offline.output
    assert "using the evidence keys pinned" in offline.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://lantern.example.org", "must be an https:// URL"),
        ("ftp://127.0.0.1/", "not an http(s) URL"),
        ("http://127.0.0.1:9/", "could not fetch"),
    ],
    ids=["plain-http-remote", "not-http", "nothing-listening"],
)
def test_keys_are_fetched_only_over_https_or_loopback(
    exported: bytes, tmp_path: Path, url: str, message: str
) -> None:
    pin = tmp_path / "pins.json"
    result = _cli(tmp_path, exported, f"--from={url}", f"--pin-file={pin}")
    assert result.exit_code == EXIT_NO_TRUSTED_KEY, result.output
    assert message in result.output
    assert not pin.exists()


def test_a_damaged_pin_file_trusts_nothing(exported: bytes, tmp_path: Path) -> None:
    pin = tmp_path / "pins.json"
    pin.write_text("{not json")
    result = _cli(tmp_path, exported, "--from=http://127.0.0.1:9", f"--pin-file={pin}")
    assert result.exit_code == EXIT_NO_TRUSTED_KEY
    assert "not a readable pin file" in result.output


def test_rechaining_forgery_helper_matches_the_chain_format(exported: bytes) -> None:
    # Guards the tests above: untouched text, recomputed, gives back the very same manifest.
    files = _files(exported)
    entries = json.loads(files["entries.json"])
    same = rechained_forgery(exported, entries[1]["content"]["description"])
    assert json.loads(same["manifest.json"]) == json.loads(files["manifest.json"])
