"""pymilvus against a live `osprey serve`: connecting, versions, the answer to RPCs the
server does not serve (a MilvusException with a clear message, never a hang), start-up
and shutdown."""
from __future__ import annotations

import socket
import time

import pytest
from pymilvus import MilvusClient, MilvusException

from conftest import start_server, stop_server

# An unserved RPC must answer at once; this bounds "not a hang" generously.
PROMPT_ANSWER_S = 5.0


def test_client_connects(client):
    # MilvusClient() already called Connect; a cheap call proves the channel works.
    assert client.get_server_version()


def test_server_version(client):
    version = client.get_server_version()
    assert version.startswith("v2.6.0-osprey.")
    detail = client.get_server_version(detail=True)
    assert detail["version"] == version
    assert detail["deploy_mode"] == "STANDALONE"


def test_undeclared_rpc_raises_clear_error(client):
    # ListCredUsers is outside the RPCs Osprey declares; it still gets a Milvus status.
    started = time.monotonic()
    with pytest.raises(MilvusException) as info:
        client.list_users()
    assert time.monotonic() - started < PROMPT_ANSWER_S
    assert "ListCredUsers is not supported by this server" in info.value.message


def test_many_clients_in_turn(osprey):
    for _ in range(5):
        milvus = MilvusClient(uri=osprey.uri, timeout=10)
        assert milvus.get_server_version()
        milvus.close()


def test_port_in_use_fails_with_clear_message(osprey, tmp_path):
    import subprocess

    from conftest import _osprey_bin

    result = subprocess.run(
        [str(_osprey_bin()), "serve", "--host", "127.0.0.1", "--port", str(osprey.port),
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "already in use" in result.stderr


def test_sigterm_stops_cleanly_and_logs(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        with socket.create_connection((server.host, server.port), timeout=2):
            pass
    finally:
        status = stop_server(server)
    assert status == 0, server.log()
    log = server.log()
    assert "data directory" in log and str(tmp_path / "data") in log
    assert "listening" in log
    assert (tmp_path / "data").is_dir()
