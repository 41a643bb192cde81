"""API-key authentication and mutual TLS, with certificates generated here by `cryptography`."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc
from youtu_embedding.serve.client import EmbeddingClient, TlsConfig
from youtu_embedding.serve.testing import ServerProcess

API_KEY = "s3cret-test-key"


def _issue(name: str, issuer_key=None, issuer_name=None, *, ca: bool = False, server: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _write(path: Path, key=None, cert=None) -> Path:
    from cryptography.hazmat.primitives import serialization

    if key is not None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    else:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _issue("test-ca", ca=True)
    s_key, s_cert = _issue("127.0.0.1", ca_key, ca_cert.subject, server=True)
    c_key, c_cert = _issue("test-client", ca_key, ca_cert.subject)
    other_ca_key, other_ca = _issue("other-ca", ca=True)
    o_key, o_cert = _issue("intruder", other_ca_key, other_ca.subject)
    return {
        "ca": _write(d / "ca.pem", cert=ca_cert),
        "server_cert": _write(d / "server.pem", cert=s_cert),
        "server_key": _write(d / "server.key", key=s_key),
        "client_cert": _write(d / "client.pem", cert=c_cert),
        "client_key": _write(d / "client.key", key=c_key),
        "intruder_cert": _write(d / "intruder.pem", cert=o_cert),
        "intruder_key": _write(d / "intruder.key", key=o_key),
    }


@pytest.fixture(scope="module")
def secure_server(tiny_utu: Path, server_logs: Path, pki: dict[str, Path]) -> Iterator:
    """Tiny utu with an API key (from the environment) and mutual TLS."""
    server = ServerProcess(
        tiny_utu,
        server_logs,
        "--tls-cert",
        str(pki["server_cert"]),
        "--tls-key",
        str(pki["server_key"]),
        "--tls-client-ca",
        str(pki["ca"]),
        env={"YOUTU_SERVE_API_KEY": API_KEY},
    )
    creds = grpc.ssl_channel_credentials(
        pki["ca"].read_bytes(), pki["client_key"].read_bytes(), pki["client_cert"].read_bytes()
    )
    try:
        server.wait_serving(credentials=creds)
        yield server, creds
    finally:
        assert server.terminate() == 0, server.log()[-2000:]


def test_api_key_required_health_and_reflection_open(secure_server) -> None:
    server, creds = secure_server
    with grpc.secure_channel(server.target, creds) as channel:
        stub = pb_grpc.EmbeddingServiceStub(channel)
        request = pb.EmbedRequest(inputs=["hello"])
        for metadata, message in (
            (None, "authorization: missing"),
            ((("authorization", "Bearer wrong"),), "authorization: invalid API key"),
            ((("authorization", API_KEY),), "authorization: invalid API key"),  # no "Bearer "
        ):
            with pytest.raises(grpc.RpcError) as info:
                stub.Embed(request, metadata=metadata, timeout=30)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert info.value.details().startswith(message)
        ok = stub.Embed(request, metadata=(("authorization", f"Bearer {API_KEY}"),), timeout=30)
        assert len(ok.embeddings[0].values) == 64
        # health and reflection need no key
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in answers[0].list_services_response.service}
        assert {"youtu.embedding.v1.EmbeddingService", "tei.v1.Embed", "grpc.health.v1.Health"} <= names


def test_mutual_tls(secure_server, pki: dict[str, Path]) -> None:
    server, _ = secure_server
    tls = TlsConfig(pki["ca"], pki["client_cert"], pki["client_key"])
    with EmbeddingClient(server.target, api_key=API_KEY, tls=tls, retries=2) as client:
        assert client.embed(["over mutual TLS"]).shape == (1, 64)
    for cert, key in ((None, None), (pki["intruder_cert"], pki["intruder_key"])):
        with EmbeddingClient(server.target, api_key=API_KEY, tls=TlsConfig(pki["ca"], cert, key), retries=2) as client:
            with pytest.raises(grpc.RpcError) as info:
                client.embed(["no valid client certificate"], timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(server.target) as plain:  # plaintext against a TLS port
        with pytest.raises(grpc.RpcError) as info:
            pb_grpc.EmbeddingServiceStub(plain).Info(pb.InfoRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_http_uses_the_same_tls_and_api_key(secure_server, pki: dict[str, Path]) -> None:
    import ssl

    import httpx

    server, _ = secure_server
    url = f"https://127.0.0.1:{server.http_port}"
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    context.load_cert_chain(str(pki["client_cert"]), str(pki["client_key"]))
    with httpx.Client(base_url=url, verify=context, timeout=30) as client:
        assert client.get("/health").status_code == 200  # open, as gRPC health
        assert client.post("/embed", json={"inputs": "x"}).status_code == 401
        ok = client.post("/embed", json={"inputs": "x"}, headers={"Authorization": f"Bearer {API_KEY}"})
        assert ok.status_code == 200 and len(ok.json()) == 1
    stranger = ssl.create_default_context(cafile=str(pki["ca"]))  # no client certificate
    with httpx.Client(base_url=url, verify=stranger, timeout=30) as client, pytest.raises(httpx.TransportError):
        client.get("/health")
