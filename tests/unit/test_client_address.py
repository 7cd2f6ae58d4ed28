"""The client address rule (client_address.py) and PASSBRIDGE_TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress
import os
import subprocess

import pytest

from passbridge.client_address import resolve
from passbridge.config import ConfigError, load_settings
from tests.servers import PASSBRIDGE

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ff::/48"))


def xff(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", v.encode()) for v in values]


def fwd(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"forwarded", v.encode()) for v in values]


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_headers() -> None:
    assert resolve("10.0.0.5", xff("198.51.100.1"), ()) == "10.0.0.5"


def test_forwarded_headers_from_an_untrusted_peer_are_ignored() -> None:
    assert resolve("203.0.113.9", xff("198.51.100.1"), PROXIES) == "203.0.113.9"
    assert resolve("203.0.113.9", fwd("for=198.51.100.1"), PROXIES) == "203.0.113.9"


def test_x_forwarded_for_is_read_from_the_right_skipping_trusted_proxies() -> None:
    # The client claims 1.1.1.1; the first proxy appended the client's real address, the second
    # proxy the first one's.
    headers = xff("1.1.1.1, 198.51.100.7", "10.1.2.3")
    assert resolve("10.0.0.5", headers, PROXIES) == "198.51.100.7"


def test_a_chain_of_trusted_proxies_only_resolves_to_the_leftmost() -> None:
    assert resolve("10.0.0.5", xff("10.9.9.9, 10.1.1.1"), PROXIES) == "10.9.9.9"


def test_a_trusted_peer_without_headers_is_the_client() -> None:
    assert resolve("10.0.0.5", [], PROXIES) == "10.0.0.5"


def test_rfc_7239_forwarded_with_ipv6_ports_and_quotes() -> None:
    headers = fwd('for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711";by=10.0.0.5')
    assert resolve("10.0.0.5", headers, PROXIES) == "2001:db8:cafe::17"
    headers = fwd('for="[2001:db8:cafe::17]"', 'For="[2001:db8:ff::1]:80"')
    assert resolve("2001:db8:ff::2", headers, PROXIES) == "2001:db8:cafe::17"


def test_x_forwarded_for_wins_over_forwarded_when_both_are_present() -> None:
    # A proxy that appends X-Forwarded-For leaves a client's own Forwarded header untouched.
    headers = [*fwd("for=1.1.1.1"), *xff("198.51.100.7")]
    assert resolve("10.0.0.5", headers, PROXIES) == "198.51.100.7"


def test_ports_and_ipv4_mapped_addresses_are_normalised() -> None:
    assert resolve("10.0.0.5", xff("198.51.100.7:5555"), PROXIES) == "198.51.100.7"
    assert resolve("::ffff:10.0.0.5", xff("::ffff:198.51.100.7"), PROXIES) == "198.51.100.7"


@pytest.mark.parametrize(
    "headers",
    [
        xff("garbage"),
        xff(""),
        xff(", ,"),
        xff("198.51.100.7, not-an-ip"),
        fwd("for=unknown"),
        fwd("for=_hidden"),
        fwd('for="[::1'),
        fwd("proto=https"),
        fwd(";;;=,=,"),
        [(b"x-forwarded-for", bytes(range(256)))],
    ],
)
def test_a_malformed_header_stops_at_the_last_genuine_address_and_never_raises(
    headers: list[tuple[bytes, bytes]],
) -> None:
    # Whatever was unreadable, the answer is the proxy that sent it: never an address the client chose.
    assert resolve("10.0.0.5", headers, PROXIES) == "10.0.0.5"


def test_a_malformed_entry_left_of_a_real_one_does_not_hide_the_real_one() -> None:
    assert resolve("10.0.0.5", xff("garbage, 198.51.100.7"), PROXIES) == "198.51.100.7"


def test_trusted_proxies_setting_takes_addresses_and_cidrs_of_both_families() -> None:
    settings = load_settings(trusted_proxies=" 127.0.0.1, 10.0.0.0/8,::1 ,2001:db8::/32")
    assert [str(n) for n in settings.trusted_proxy_networks] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
        "2001:db8::/32",
    ]
    assert load_settings().trusted_proxy_networks == ()


@pytest.mark.parametrize("value", ["10.0.0.0/33", "localhost", "10.0.0.1;10.0.0.2", "::1/200"])
def test_an_invalid_trusted_proxies_value_is_one_line_config_error(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(trusted_proxies=value)
    assert str(refused.value).startswith("invalid PASSBRIDGE_TRUSTED_PROXIES: ")
    assert "\n" not in str(refused.value)


def test_the_cli_refuses_an_invalid_trusted_proxies_value_in_one_line(tmp_path: object) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    environ.update(PASSBRIDGE_DATA_DIR=str(tmp_path), PASSBRIDGE_TRUSTED_PROXIES="10.0.0.0/33")
    done = subprocess.run([str(PASSBRIDGE), "db", "upgrade"], env=environ, capture_output=True, text=True)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "PASSBRIDGE_TRUSTED_PROXIES" in lines[0], done.stderr
