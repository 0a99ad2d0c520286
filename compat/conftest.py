"""Fixtures for the pymilvus compatibility tests.

The session starts one live `osprey serve` on a free port (`--port 0`) with a temporary
data directory, waits until it accepts connections, and stops it with SIGTERM at the
end, checking that it exits cleanly. The binary is $OSPREY_BIN (default
.build/debug/osprey, relative to the repository root).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 15.0
# `osprey serve` prints this line on stdout once it is bound.
LISTENING_LINE = re.compile(r"listening on (\S+):(\d+)")


@dataclass
class OspreyServer:
    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen
    output: list[str]

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return "".join(self.output)


def _osprey_bin() -> Path:
    path = Path(os.environ.get("OSPREY_BIN", ".build/debug/osprey"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.exit(f"osprey binary not found at {path}; build it or set OSPREY_BIN", returncode=2)
    return path


def _drain(stream, sink: list[str], port_found: threading.Event, found: dict) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)
        match = LISTENING_LINE.search(line)
        if match and not port_found.is_set():
            found["host"], found["port"] = match.group(1), int(match.group(2))
            port_found.set()
    stream.close()


def _wait_until_accepting(host: str, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"osprey did not accept connections on {host}:{port}")


def start_server(data_dir: Path, *extra_args: str) -> OspreyServer:
    """Starts `osprey serve` on a free port and returns once it accepts connections."""
    args = [str(_osprey_bin()), "serve", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", str(data_dir), *extra_args]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, cwd=REPO_ROOT)
    output: list[str] = []
    port_found, found = threading.Event(), {}
    threading.Thread(target=_drain, args=(process.stdout, output, port_found, found),
                     daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not port_found.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("osprey serve did not report a port:\n" + "".join(output))
    _wait_until_accepting(found["host"], found["port"], deadline)
    return OspreyServer(found["host"], found["port"], data_dir, process, output)


def stop_server(server: OspreyServer) -> int:
    """Sends SIGTERM and returns the exit status (killing the process after a timeout)."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        raise AssertionError("osprey did not exit within "
                             f"{SHUTDOWN_TIMEOUT_S}s of SIGTERM:\n{server.log()}")


@pytest.fixture(scope="session")
def osprey(tmp_path_factory) -> OspreyServer:
    server = start_server(tmp_path_factory.mktemp("osprey-data"))
    yield server
    status = stop_server(server)
    assert status == 0, f"osprey exited with {status} after SIGTERM:\n{server.log()}"


@pytest.fixture()
def client(osprey):
    from pymilvus import MilvusClient

    milvus = MilvusClient(uri=osprey.uri, timeout=10)
    yield milvus
    milvus.close()
