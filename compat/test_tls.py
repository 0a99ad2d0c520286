"""TLS: pymilvus over one-way TLS and over mutual TLS, with certificates made for the test
by openssl (a throwaway CA, a server certificate for localhost/127.0.0.1, and a client
certificate)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pymilvus import MilvusClient, MilvusException

from conftest import start_server, stop_server

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(directory: Path, name: str, subject: str, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
             "-extfile", f"{name}.ext", cwd=directory)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", "2", "-subj", "/CN=Osprey Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _issue(directory, "server", "/CN=localhost",
           "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _issue(directory, "client", "/CN=osprey-test-client", "extendedKeyUsage=clientAuth\n")
    return directory


def _serve(tmp_path: Path, certs: Path, *extra: str):
    return start_server(tmp_path / "data", "--tls-cert", str(certs / "server.pem"),
                        "--tls-key", str(certs / "server.key"), *extra)


def test_one_way_tls(tmp_path, certs):
    server = _serve(tmp_path, certs)
    try:
        client = MilvusClient(uri=f"https://127.0.0.1:{server.port}", timeout=10,
                              server_pem_path=str(certs / "ca.pem"), server_name="localhost")
        assert client.get_server_version().startswith("v")
        client.close()
    finally:
        assert stop_server(server) == 0, server.log()


def test_mutual_tls(tmp_path, certs):
    server = _serve(tmp_path, certs, "--tls-ca", str(certs / "ca.pem"))
    try:
        client = MilvusClient(uri=f"https://127.0.0.1:{server.port}", timeout=10,
                              ca_pem_path=str(certs / "ca.pem"),
                              client_pem_path=str(certs / "client.pem"),
                              client_key_path=str(certs / "client.key"),
                              server_name="localhost")
        assert client.get_server_version().startswith("v")
        client.close()

        # Without a client certificate the handshake is refused. (dedicated: pymilvus
        # would otherwise reuse the connection above, which shares the address.)
        with pytest.raises(MilvusException):
            MilvusClient(uri=f"https://127.0.0.1:{server.port}", timeout=3, dedicated=True,
                         server_pem_path=str(certs / "ca.pem"), server_name="localhost")
    finally:
        assert stop_server(server) == 0, server.log()
