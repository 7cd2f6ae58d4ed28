"""docs/deployment.md's two-node deployment, for real: two `passbridge serve` processes on their own ports
over one PostgreSQL store, with the same pepper and base URL, behind nginx (the config the docs give).
A pass issued through node A's Graph API signs in through node B's pages; the session and the refresh
token work on both nodes and through the proxy, which spreads requests over both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.oidc.conftest import CALLBACK, pkce_pair, query_of
from tests.pg import fresh_schema
from tests.servers import PASSBRIDGE, free_port, initialised_store, serving, wait_ready
from tests.web.conftest import csrf_of, username_form

ADA = "ada@contoso.example"

NGINX_CONF = """
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 128; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format upstream '$request_method $uri $upstream_addr $status';
    access_log {dir}/access.log upstream;

{site}
}}
"""


def site_config(proxy_port: int, node_ports: tuple[int, int]) -> str:
    """docs/deployment.md's two-node site, on loopback ports (the docs listen on 443 with TLS)."""
    servers = "".join(f"        server 127.0.0.1:{port};\n" for port in node_ports)
    return f"""    upstream passbridge {{
{servers}    }}
    server {{
        listen 127.0.0.1:{proxy_port};
        location = /metrics {{ return 404; }}
        location / {{
            proxy_pass http://passbridge;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout;
        }}
    }}"""


@contextmanager
def nginx(tmp_path: Path, proxy_port: int, node_ports: tuple[int, int]) -> Iterator[Path]:
    """nginx in the foreground with a config of its own; yields its access log."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        pytest.fail(
            "nginx is missing: run scripts/test (it installs nginx) or apt-get install -y nginx",
            pytrace=False,
        )
    directory = tmp_path / "nginx"
    directory.mkdir()
    conf = directory / "nginx.conf"
    # As root, nginx's workers would switch to "nobody", who cannot write the test's directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, dir=directory, site=site_config(proxy_port, node_ports)))
    proc = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(directory), "-e", str(directory / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{proxy_port}/readyz", proc)
        yield directory / "access.log"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@dataclass
class Nodes:
    a: str
    b: str
    proxy: str
    environ: dict[str, str]
    access_log: Path

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(PASSBRIDGE), *args], env=self.environ, check=True, capture_output=True, text=True
        )
        return done.stdout


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    proxy_port, port_a, port_b = free_port(), free_port(), free_port()
    proxy = f"http://localhost:{proxy_port}"
    with fresh_schema() as schema_url, ExitStack() as running:
        # One store, one pepper (initialised_store's), one public address: the proxy's.
        environ = initialised_store(
            tmp_path / "a",
            PASSBRIDGE_DATABASE_URL=schema_url,
            PASSBRIDGE_BASE_URL=proxy,
            PASSBRIDGE_TRUSTED_PROXIES="127.0.0.1",
        )
        # Node B has a data dir of its own, with nothing in it: everything it needs is in the store and
        # the environment.
        environ_b = {**environ, "PASSBRIDGE_DATA_DIR": str(tmp_path / "b")}
        running.enter_context(serving(environ, port_a, tmp_path / "a.log"))
        running.enter_context(serving(environ_b, port_b, tmp_path / "b.log"))
        log = running.enter_context(nginx(tmp_path, proxy_port, (port_a, port_b)))
        yield Nodes(f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}", proxy, environ, log)


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in_through(node: httpx.Client, client_id: str, value: str) -> tuple[str, str]:
    """The code flow's front channel on one node: authorize, the sign-in pages with the pass, back to
    the authorize endpoint, the code. Returns (code, PKCE verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile offline_access",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    first = node.get(f"/oauth2/v2.0/authorize?{urlencode(params)}")
    assert first.status_code == 303, first.text
    login = node.get(path_of(first.headers["location"]))
    assert login.status_code == 200, login.text
    named = node.post("/login", data=username_form(login.text, ADA))
    assert named.status_code == 303, named.text
    page = node.get("/login/pass")
    proved = node.post("/login/pass", data={"csrf_token": csrf_of(page.text), "pass": value})
    assert proved.status_code == 303, proved.text
    location = proved.headers["location"]
    if location.startswith("/setup-methods"):
        location = query_of(location)["return_to"]
    back = node.get(path_of(location))
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(CALLBACK + "?")
    return query_of(back.headers["location"])["code"], verifier


@pytest.mark.multi
def test_a_pass_issued_on_one_node_signs_in_on_the_other_and_both_honour_the_session(nodes: Nodes) -> None:
    script = json.loads(
        nodes.cli(
            "app", "add", "HR", "--permission", "UserAuthenticationMethod.ReadWrite.All",
            "--permission", "AuditLog.Read.All", "--json",
        )
    )  # fmt: skip
    wiki = json.loads(nodes.cli("app", "add", "Wiki", "--public", "--redirect-uri", CALLBACK, "--json"))
    nodes.cli("user", "add", ADA, "--display-name", "Ada Lovelace")

    # Node A: a token for the script, and the pass through Graph.
    granted = httpx.post(
        f"{nodes.a}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": script["clientId"],
            "client_secret": script["clientSecret"],
            "scope": f"{nodes.proxy}/.default",
        },
    )
    assert granted.status_code == 200, granted.text
    graph = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    issued = httpx.post(
        f"{nodes.a}/v1.0/users/{ADA}/authentication/temporaryAccessPassMethods",
        json={"isUsableOnce": False},
        headers=graph,
    )
    assert issued.status_code == 201, issued.text
    value = issued.json()["temporaryAccessPass"]

    # Node B: the sign-in pages, with the pass from node A.
    with httpx.Client(base_url=nodes.b, timeout=30) as on_b:
        code, verifier = sign_in_through(on_b, wiki["clientId"], value)
        session = dict(on_b.cookies)
    # The code from node B redeemed at node A; the refresh token then rotates on B, on A, via the proxy.
    redeemed = httpx.post(
        f"{nodes.a}/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": wiki["clientId"],
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert redeemed.status_code == 200, redeemed.text
    refresh_token = redeemed.json()["refresh_token"]
    for base in (nodes.b, nodes.a, nodes.proxy, nodes.proxy):
        rotated = httpx.post(
            f"{base}/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "client_id": wiki["clientId"],
                "refresh_token": refresh_token,
            },
        )
        assert rotated.status_code == 200, (base, rotated.text)
        assert rotated.json()["refresh_token"] != refresh_token
        refresh_token = rotated.json()["refresh_token"]

    # The browser's session, opened on node B, is good on each node and through the proxy.
    for base in (nodes.a, nodes.b, nodes.proxy, nodes.proxy):
        apps = httpx.get(f"{base}/apps", cookies=session, timeout=30)
        assert apps.status_code == 200, (base, apps.status_code)
        assert "Ada Lovelace" in apps.text

    # Through the proxy: a second sign-in whose steps nginx hands to both nodes in turn.
    with httpx.Client(base_url=nodes.proxy, timeout=30) as via_proxy:
        via_proxy.headers["X-Forwarded-For"] = "203.0.113.9"  # forged: the proxy replaces it
        sign_in_through(via_proxy, wiki["clientId"], value)
    time.sleep(0.2)  # nginx writes its access log line after answering
    upstreams = [line.split()[2] for line in nodes.access_log.read_text().splitlines() if " /login" in line]
    assert {urlsplit(f"http://{u}").port for u in upstreams} == {
        urlsplit(nodes.a).port,
        urlsplit(nodes.b).port,
    }
    signins = httpx.get(f"{nodes.a}/v1.0/auditLogs/signIns", headers=graph).json()["value"]
    assert len(signins) == 2 and all(s["status"]["errorCode"] == 0 for s in signins)
    assert {s["ipAddress"] for s in signins} == {"127.0.0.1"}  # never the forged address
    # /metrics stays off the public side, whatever the nodes are set to.
    assert httpx.get(f"{nodes.proxy}/metrics").status_code == 404
