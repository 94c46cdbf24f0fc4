"""Nothing unchecked rides along in a journal export that verifies.

The signature covers the manifest, and the manifest every link and digest: whatever else a zip
can carry (a second member of one name, a file no entry lists, a second copy of an entry, a
JSON key given twice, a field beside an entry's content, a comment) is text no one vouches
for, which a court, a lawyer or their zip tool may read as part of the evidence. Each is a
chain problem, named, with the broken-chain exit code; the signature itself still holds.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api.cli import main
from api.cli_journal import EXIT_CHAIN_BROKEN
from core.crypto import KeyRing
from safety_plans import bundle
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party
from tests.safety_plans.test_export import EXPORT, _journal, key_options, trusted

FORGED_TEXT = "Nothing happened; I made it up."


def _exported(client: JsonClient, party: Party) -> tuple[bytes, list[dict[str, Any]]]:
    made = _journal(client, party)
    return client.get(EXPORT, headers=party.survivor_headers).data, made


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _zip(members: list[tuple[str, bytes]], comment: bytes = b"") -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": the point of some tests
        with zipfile.ZipFile(out, "w") as zf:
            for name, raw in members:
                zf.writestr(name, raw)
            zf.comment = comment
    return out.getvalue()


def _replaced(data: bytes, name: str, raw: bytes) -> bytes:
    return _zip([(n, raw if n == name else r) for n, r in _members(data)])


def _signed_but_broken(data: bytes, keyring: KeyRing) -> bundle.Report:
    report = bundle.verify(io.BytesIO(data), trusted(keyring))
    assert report.seal.status == bundle.SIGNED, report.seal  # the manifest is untouched...
    assert not report.ok  # ...but something beside it is not
    return report


@pytest.mark.parametrize("name", ["manifest.json", "signature.json", "entries.json", "photo"])
def test_a_second_member_of_any_name_is_refused(
    client: JsonClient, party: Party, keyring: KeyRing, name: str
) -> None:
    data, _made = _exported(client, party)
    members = _members(data)
    if name == "photo":
        name = next(n for n, _ in members if n.startswith("attachments/"))
    copy = dict(members)[name]
    # The copy goes first: Python reads the last member of a name, other tools the first.
    report = _signed_but_broken(_zip([(name, copy + b" "), *members]), keyring)
    assert ("bundle", f"the zip holds 2 files named {name!r}") in report.problems


def test_a_key_given_twice_in_an_entry_is_refused(
    client: JsonClient, party: Party, keyring: KeyRing
) -> None:
    """``{"content": forged, "content": genuine}``: Python keeps the genuine (last) value and
    the digest matches; a reader that keeps the first value reads the forgery."""
    data, _made = _exported(client, party)
    entries = json.loads(dict(_members(data))["entries.json"])
    target = entries[1]
    forged = json.loads(json.dumps(target["content"]))
    forged["description"] = FORGED_TEXT
    item = (
        f'{{"id": {json.dumps(target["id"])}, "content": {json.dumps(forged)}, '
        f'"content": {json.dumps(target["content"])}}}'
    )
    raw = "[" + ", ".join([json.dumps(entries[0]), item, *map(json.dumps, entries[2:])]) + "]"
    assert json.loads(raw) == entries  # what a lenient verifier checks: the genuine journal

    report = _signed_but_broken(_replaced(data, "entries.json", raw.encode()), keyring)
    assert report.problems == [
        ("bundle", "entries.json repeats the key 'content' within one object")
    ]


def test_a_field_beside_an_entry_is_refused(
    client: JsonClient, party: Party, keyring: KeyRing
) -> None:
    data, made = _exported(client, party)
    entries = json.loads(dict(_members(data))["entries.json"])
    entries[0]["note"] = FORGED_TEXT
    report = _signed_but_broken(
        _replaced(data, "entries.json", json.dumps(entries).encode()), keyring
    )
    assert report.problems == [(made[0]["id"], "entry carries fields outside the chain: ['note']")]


def test_a_second_copy_of_an_entry_after_the_genuine_one_is_refused(
    client: JsonClient, party: Party, keyring: KeyRing
) -> None:
    data, made = _exported(client, party)
    entries = json.loads(dict(_members(data))["entries.json"])
    forged = json.loads(json.dumps(entries[0]))
    forged["content"]["description"] = FORGED_TEXT
    doctored = _replaced(data, "entries.json", json.dumps([*entries, forged]).encode())
    report = _signed_but_broken(doctored, keyring)
    assert report.problems == [(made[0]["id"], "entry appears more than once in entries.json")]


def test_a_field_beside_the_signature_is_refused(
    client: JsonClient, party: Party, keyring: KeyRing
) -> None:
    data, _made = _exported(client, party)
    signature = json.loads(dict(_members(data))["signature.json"])
    signature["statement"] = FORGED_TEXT
    doctored = _replaced(data, "signature.json", json.dumps(signature).encode())
    report = _signed_but_broken(doctored, keyring)
    assert report.problems == [
        ("bundle", "signature.json carries fields no signature covers: ['statement']")
    ]


def test_a_zip_comment_is_refused(client: JsonClient, party: Party, keyring: KeyRing) -> None:
    data, _made = _exported(client, party)
    report = _signed_but_broken(_zip(_members(data), comment=FORGED_TEXT.encode()), keyring)
    assert report.problems == [("bundle", "the zip carries a comment, which no link covers")]


def test_json_nested_too_deep_is_a_problem_not_a_crash(
    client: JsonClient, party: Party, keyring: KeyRing
) -> None:
    data, _made = _exported(client, party)
    deep = b"[" * 200_000 + b"]" * 200_000
    report = bundle.verify(io.BytesIO(_replaced(data, "entries.json", deep)), trusted(keyring))
    assert report.problems == [("bundle", "entries.json is not valid JSON")]


def test_a_genuine_bundle_repacked_with_its_folder_listed_still_verifies(
    client: JsonClient, party: Party, keyring: KeyRing
) -> None:
    """Unzipped and zipped again (``zip -r``), the attachments folder becomes a member of its
    own; it holds nothing, and the genuine evidence must still verify."""
    data, _made = _exported(client, party)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.mkdir("attachments")
        for name, raw in _members(data):
            zf.writestr(name, raw)
    report = bundle.verify(io.BytesIO(out.getvalue()), trusted(keyring))
    assert report.ok, (report.problems, report.seal)


def test_the_cli_names_a_planted_file_and_exits_chain_broken(
    client: JsonClient, party: Party, keyring: KeyRing, tmp_path: Path
) -> None:
    data, _made = _exported(client, party)
    path = tmp_path / "planted.zip"
    path.write_bytes(_zip([*_members(data), ("statement.txt", FORGED_TEXT.encode())]))
    result = CliRunner().invoke(main, ["journal", "verify", str(path), *key_options(keyring)])
    assert result.exit_code == EXIT_CHAIN_BROKEN, result.output
    assert "statement.txt: a file no entry lists" in result.output
    assert "journal intact" not in result.output
