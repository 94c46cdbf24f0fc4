"""SSRF: webhook URLs reaching internal addresses are refused, at save time and at delivery."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from coordination.urls import UnsafeWebhookUrl, check_webhook_url
from tests.coordination.conftest import PUBLIC_IP, FakeResolver, World
from tests.factories import auth_header


def _check(url: str, resolver: FakeResolver | None = None, **kw: object) -> object:
    options: dict[str, object] = {"allowlist": "", "production": False}
    options.update(kw)
    return check_webhook_url(url, resolver=resolver or FakeResolver(), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
    ],
)
def test_internal_literals_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        _check(url)


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    resolver = FakeResolver()
    resolver.names["hooks.evil.example"] = ["10.1.2.3"]
    with pytest.raises(UnsafeWebhookUrl):
        _check("https://hooks.evil.example/x", resolver)


def test_any_private_address_among_many_is_refused() -> None:
    resolver = FakeResolver()
    resolver.names["mixed.example"] = [PUBLIC_IP, "127.0.0.1"]
    with pytest.raises(UnsafeWebhookUrl):
        _check("https://mixed.example/x", resolver)


def test_real_getaddrinfo_monkeypatched_to_private_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    def fake(host: str, port: object, *a: object, **k: object) -> list[object]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("172.16.5.4", 443))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(UnsafeWebhookUrl):
        check_webhook_url(
            "https://partner.example/hook",
            allowlist="",
            production=True,
            resolver=socket.getaddrinfo,
        )


def test_public_address_passes_and_is_the_one_to_connect_to() -> None:
    resolver = FakeResolver()
    resolver.names["hooks.police.example"] = [PUBLIC_IP]
    checked = _check("https://hooks.police.example:8443/in?x=1", resolver)
    assert checked.address == PUBLIC_IP  # type: ignore[attr-defined]
    assert checked.port == 8443  # type: ignore[attr-defined]
    assert checked.target == "/in?x=1"  # type: ignore[attr-defined]


def test_allowlist_lets_loopback_through_but_only_what_it_names() -> None:
    assert _check("http://127.0.0.1:9000/hook", allowlist="127.0.0.1")
    with pytest.raises(UnsafeWebhookUrl):
        _check("http://127.0.0.2:9000/hook", allowlist="127.0.0.1")
    resolver = FakeResolver()
    resolver.names["internal.partner"] = ["10.9.9.9"]
    assert _check("https://internal.partner/x", resolver, allowlist="internal.partner")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.police.example/x",  # production needs https
        "ftp://hooks.police.example/x",
        "https://user:pw@hooks.police.example/x",
        "https:///nohost",
        "https://hooks.police.example/" + "a" * 2100,
        "https://unresolvable.example/x",
    ],
)
def test_malformed_or_plain_http_in_production_is_refused(url: str) -> None:
    resolver = FakeResolver()
    resolver.names["hooks.police.example"] = [PUBLIC_IP]
    with pytest.raises(UnsafeWebhookUrl):
        _check(url, resolver, production=True)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "https://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/"],
)
def test_admin_api_refuses_internal_urls(client: FlaskClient, world: World, url: str) -> None:
    r = client.put(
        f"/v1/admin/agencies/{world.police.id}/webhook",
        json={"url": url},
        headers=auth_header(world.admin_token),
    )
    assert r.status_code == 422, r.json
    assert r.json["type"].endswith("unsafe-webhook-url")
    got = client.get(
        f"/v1/admin/agencies/{world.police.id}/webhook", headers=auth_header(world.admin_token)
    )
    assert got.json["configured"] is False


def test_admin_api_sets_url_and_shows_the_secret_once(client: FlaskClient, world: World) -> None:
    world.resolver.names["hooks.police.example"] = [PUBLIC_IP]
    url = f"/v1/admin/agencies/{world.police.id}/webhook"
    h = auth_header(world.admin_token)
    r = client.put(url, json={"url": "https://hooks.police.example/in"}, headers=h)
    assert r.status_code == 200, r.json
    assert r.json["secret"].startswith("whsec_")
    again = client.put(url, json={"url": "https://hooks.police.example/v2"}, headers=h)
    assert again.json["secret"] is None
    assert again.json["url"].endswith("/v2")
    assert client.get(url, headers=h).json["secret"] is None
    rotated = client.post(f"{url}/secrets/rotate", headers=h)
    assert rotated.status_code == 200
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != r.json["secret"]
    assert rotated.json["rotating_until"] is not None


def test_rotation_needs_a_fresh_second_factor_and_removal_keeps_pull(
    client: FlaskClient, world: World
) -> None:
    world.resolver.names["hooks.police.example"] = [PUBLIC_IP]
    url = f"/v1/admin/agencies/{world.police.id}/webhook"
    h = auth_header(world.admin_token)
    client.put(url, json={"url": "https://hooks.police.example/in"}, headers=h)
    world.clock.advance(minutes=16)
    stale = client.post(f"{url}/secrets/rotate", headers=h)
    assert stale.status_code == 401
    assert stale.json["type"].endswith("step-up-required")
    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).json["configured"] is False
    import uuid

    missing = client.get(f"/v1/admin/agencies/{uuid.uuid4()}/webhook", headers=h)
    assert missing.status_code == 404


def test_production_refuses_the_fake_webhook_sender() -> None:
    from core.errors import ConfigurationError
    from core.settings import load_settings

    with pytest.raises(ConfigurationError) as refused:
        load_settings({}, env="production", webhook_sender="fake").check_production()
    assert "LANTERN_WEBHOOK_SENDER" in str(refused.value)
    with pytest.raises(ConfigurationError) as other:
        load_settings({}, env="production").check_production()
    assert "LANTERN_WEBHOOK_SENDER" not in str(other.value)
