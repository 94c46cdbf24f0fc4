"""SSRF: webhook URLs reaching internal addresses are refused, at save time and at delivery."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from coordination.urls import CheckedUrl, Endpoint, UnsafeWebhookUrl, check_webhook_url
from tests.coordination.conftest import PUBLIC_IP, FakeResolver, World
from tests.factories import auth_header
from tests.json_client import JsonClient


def _check(
    url: str,
    resolver: FakeResolver | None = None,
    *,
    allowlist: str = "",
    production: bool = False,
    own: Iterable[Endpoint] = (),
) -> CheckedUrl:
    return check_webhook_url(
        url,
        allowlist=allowlist,
        production=production,
        own=own,
        resolver=resolver or FakeResolver(),
    )


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
    assert checked.address == PUBLIC_IP
    assert checked.port == 8443
    assert checked.target == "/in?x=1"


def test_allowlist_lets_loopback_through_but_only_what_it_names() -> None:
    assert _check("http://127.0.0.1:9000/hook", allowlist="127.0.0.1:9000")
    with pytest.raises(UnsafeWebhookUrl):
        _check("http://127.0.0.2:9000/hook", allowlist="127.0.0.1:9000")
    resolver = FakeResolver()
    resolver.names["internal.partner"] = ["10.9.9.9"]
    assert _check("https://internal.partner/x", resolver, allowlist="internal.partner")


@pytest.mark.parametrize(
    ("url", "allowlist"),
    [
        ("http://127.0.0.1:22/", "127.0.0.1"),
        ("http://127.0.0.1:5432/", "127.0.0.1"),
        ("http://127.0.0.1:8000/v1/sms/inbound", "127.0.0.1"),
        ("http://[::1]:6379/", "::1"),
        ("http://10.0.0.7:8080/", "10.0.0.0/8"),
        ("https://internal.partner:8443/x", "internal.partner"),
        ("http://127.0.0.1:9001/", "127.0.0.1:9000"),
        ("http://127.0.0.1/", "127.0.0.1:9000"),  # a port named opens only that port
        ("http://[::1]:9001/", "[::1]:9000"),
        ("https://10.1.2.3:8443/", "10.1.0.0/16:443"),
    ],
)
def test_an_allowlist_entry_opens_only_its_port(url: str, allowlist: str) -> None:
    resolver = FakeResolver()
    resolver.names["internal.partner"] = ["10.9.9.9"]
    with pytest.raises(UnsafeWebhookUrl):
        _check(url, resolver, allowlist=allowlist)


@pytest.mark.parametrize(
    ("url", "allowlist"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1"),  # a bare entry: 80 and 443
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("http://127.0.0.1:9000/hook", "10.0.0.1:80, 127.0.0.1:9000"),
        ("http://[::1]:9000/hook", "[::1]:9000"),
        ("https://[fd00::5]/hook", "fd00::/8"),
        ("https://10.1.2.3/x", "10.1.0.0/16:443"),
        ("https://internal.partner:8443/x", "Internal.Partner.:8443"),
    ],
)
def test_host_port_entries_open_what_they_name(url: str, allowlist: str) -> None:
    resolver = FakeResolver()
    resolver.names["internal.partner"] = ["10.9.9.9"]
    assert _check(url, resolver, allowlist=allowlist)


@pytest.mark.parametrize(
    "allowlist",
    ["127.0.0.1:abc", "127.0.0.1:0", "127.0.0.1:65536", "[::1", "[::1]9000", ":80", "a/b:80"],
)
def test_a_malformed_allowlist_stops_the_start_and_opens_nothing(allowlist: str) -> None:
    from coordination.urls import parse_allowlist
    from core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="LANTERN_WEBHOOK_ALLOWLIST"):
        parse_allowlist(allowlist)
    with pytest.raises(UnsafeWebhookUrl):
        _check("http://127.0.0.1:80/", allowlist=allowlist)


@pytest.mark.parametrize(
    ("url", "allowlist"),
    [
        ("http://127.0.0.1:8000/v1/staff/login", "127.0.0.1:8000"),
        ("http://localhost:8000/x", "localhost:8000"),
        ("http://127.0.0.2:8000/x", "127.0.0.0/8:8000"),
        ("http://[::1]:8000/x", "[::1]:8000"),
        ("http://[::ffff:127.0.0.1]:8000/x", "[::ffff:127.0.0.1]:8000"),
        ("http://0.0.0.0:8000/x", "0.0.0.0:8000"),
    ],
)
def test_the_service_itself_is_never_a_target_even_allowlisted(url: str, allowlist: str) -> None:
    resolver = FakeResolver()
    resolver.names["localhost"] = ["127.0.0.1"]
    own = (("127.0.0.1", 8000),)
    with pytest.raises(UnsafeWebhookUrl, match="this service"):
        _check(url, resolver, allowlist=allowlist, own=own)
    # The same entry at another port is a partner on this machine, as the allowlist says.
    other = url.replace(":8000", ":9000")
    assert _check(other, resolver, allowlist=allowlist.replace(":8000", ":9000"), own=own)


def test_the_public_base_url_host_is_never_a_target(settings: object) -> None:
    from coordination.urls import check_for_settings
    from core.settings import Settings

    assert isinstance(settings, Settings)
    resolver = FakeResolver()
    resolver.names["lantern.example.org"] = [PUBLIC_IP]
    resolver.names["partner.example.org"] = ["93.184.216.35"]
    prod = settings.replace(public_base_url="https://lantern.example.org")
    for url in (
        "https://lantern.example.org/v1/sms/inbound",
        "https://LANTERN.example.org.:443/x",
        "http://lantern.example.org:443/x",
    ):
        with pytest.raises(UnsafeWebhookUrl, match="this service"):
            check_for_settings(url, prod, resolver)
    assert check_for_settings("https://partner.example.org/in", prod, resolver)
    # Another port of the same public name is another service: not ours.
    assert check_for_settings("https://lantern.example.org:8443/in", prod, resolver)
    dev = settings.replace(
        public_base_url="http://127.0.0.1:8000", webhook_allowlist="127.0.0.1:8000"
    )
    with pytest.raises(UnsafeWebhookUrl, match="this service"):
        check_for_settings("http://127.0.0.1:8000/hook", dev, resolver)


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
def test_admin_api_refuses_internal_urls(client: JsonClient, world: World, url: str) -> None:
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


def test_admin_api_sets_url_and_shows_the_secret_once(client: JsonClient, world: World) -> None:
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
    client: JsonClient, world: World
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


def test_admin_api_refuses_other_ports_of_an_allowlisted_address(
    client: JsonClient, world: World
) -> None:
    world.deps.settings = world.runtime.settings.replace(webhook_allowlist="127.0.0.1")
    url = f"/v1/admin/agencies/{world.police.id}/webhook"
    h = auth_header(world.admin_token)
    for target in ("http://127.0.0.1:22/", "http://127.0.0.1:5432/", "http://127.0.0.1:8000/"):
        r = client.put(url, json={"url": target}, headers=h)
        assert r.status_code == 422, (target, r.json)
        assert r.mimetype == "application/problem+json"
        assert r.json["type"].endswith("unsafe-webhook-url")
    assert client.put(url, json={"url": "http://127.0.0.1/in"}, headers=h).status_code == 200


def test_admin_api_refuses_the_address_the_app_is_bound_to(
    client: JsonClient, world: World
) -> None:
    import socket

    # The app server's socket for this request (werkzeug and gunicorn hand it to the app).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        world.deps.settings = world.runtime.settings.replace(webhook_allowlist=f"127.0.0.1:{port}")
        with socket.create_connection(("127.0.0.1", port)) as _peer:
            conn, _ = listener.accept()
            with conn:
                r = client.put(
                    f"/v1/admin/agencies/{world.police.id}/webhook",
                    json={"url": f"http://127.0.0.1:{port}/v1/staff/login"},
                    headers=auth_header(world.admin_token),
                    environ_base={"werkzeug.socket": conn},
                )
    assert r.status_code == 422, r.json
    assert "this service" in r.json["errors"]["url"][0]


def test_delivery_rechecks_the_port_against_the_allowlist(world: World) -> None:
    from coordination.models import Delivery

    world.deps.settings = world.runtime.settings.replace(webhook_allowlist="127.0.0.1:9000")
    world.webhook(world.police, "http://127.0.0.1:9000/hooks", ip="127.0.0.1")
    world.consent(world.police, ["welfare_check"])
    # The operator narrows the entry to the bare address: port 9000 is no longer open.
    world.deps.settings = world.runtime.settings.replace(webhook_allowlist="127.0.0.1")
    _alert, [delivery] = world.alert("welfare_check")
    world.session.commit()
    world.worker().run_once()
    assert world.sender.sent == []
    world.session.expire_all()
    row = world.session.get(Delivery, delivery.id)
    assert row is not None
    assert row.state == "pending"


def test_the_app_does_not_start_with_a_malformed_allowlist(settings: object) -> None:
    from api.app import create_app
    from core.errors import ConfigurationError
    from core.settings import Settings

    assert isinstance(settings, Settings)
    with pytest.raises(ConfigurationError, match="LANTERN_WEBHOOK_ALLOWLIST"):
        create_app(settings.replace(webhook_allowlist="127.0.0.1:ssh"))
