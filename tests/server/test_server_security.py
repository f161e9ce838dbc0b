"""Host names, web-view origins and the token file (pure functions and the in-process app)."""

from __future__ import annotations

import os
import sys

import pytest

from server.config import ConfigError, ServerConfig, check_bind, ensure_token, is_loopback_host
from server.security import origin_allowed


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"]
)
def test_loopback_literals_and_localhost_are_loopback(host):
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "127.evil.example",
        "127.0.0.1.nip.io",
        "localhost.evil.example",
        "127.",
        "0x7f000001",
        "evil@127.0.0.1",
        "10.0.0.1",
        "::ffff:10.0.0.1",
        "",
    ],
)
def test_names_that_only_look_loopback_are_not(host):
    assert not is_loopback_host(host)


def test_a_dns_name_starting_with_127_is_not_bound_without_allow_remote():
    with pytest.raises(ConfigError):
        check_bind(ServerConfig(host="127.evil.example"))
    check_bind(ServerConfig(host="127.evil.example", allow_remote=True))


@pytest.mark.parametrize(
    "host_header",
    ["127.evil.example", "127.0.0.1.nip.io:8765", "127.0.0.1:8765, evil.example"],
)
def test_http_host_check_refuses_look_alikes_and_two_hosts(client, auth, host_header):
    response = client.get("/v1/info", headers={**auth, "Host": host_header})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "origin",
    [
        "isolated-app://abcdef",
        "tauri://localhost",
        "capacitor://localhost",
        "vscode-webview://1234abcd",
        "https://evil.example",
        "null",
    ],
)
def test_web_view_origins_are_web_origins(origin):
    config = ServerConfig()
    assert not origin_allowed(origin, config)
    if origin != "null":
        assert origin_allowed(origin, ServerConfig(allowed_origins=(origin,)))


def test_plug_in_runtime_origins_still_pass():
    assert origin_allowed("uxp://panel", ServerConfig())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_a_token_file_others_can_read_is_refused_with_the_fix(tmp_path):
    token = ensure_token(tmp_path)
    path = tmp_path / "token"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as caught:
        ensure_token(tmp_path)
    assert "chmod 600" in str(caught.value)
    os.chmod(path, 0o600)
    assert ensure_token(tmp_path) == token


@pytest.mark.parametrize("weak", ["secret", "a" * 40, "0123456789" * 2, "ab" * 30])
def test_a_weak_token_is_refused_with_the_fix(tmp_path, weak):
    path = tmp_path / "token"
    path.write_text(weak + "\n")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError) as caught:
        ensure_token(tmp_path)
    assert "delete the file" in str(caught.value)
