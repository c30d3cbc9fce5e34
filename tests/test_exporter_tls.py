"""The tls probe against real TLS servers on 127.0.0.1, with certificates made here: chain
verification, certificate strength and weak cipher suites, read back from a fresh registry."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from prometheus_client import generate_latest

from exporters.app import build_registry
from exporters.context import ProbeContext
from exporters.kinds import probe_kinds
from exporters.probe import ResultCache, run_probe
from exporters.probes.tls import CHAIN_ERRORS, WEAK_CIPHER_GROUPS, tls_probe
from exporters.targets import Target
from owl.inventory import parse_inventory
from tests.fixtures.sites.support import client, inventory_text
from tests.support.binaries import require_binary

NOW = dt.datetime.now(dt.timezone.utc)
SITE = {"client": "acme", "site": "www"}
# what a server configured after Mozilla's "intermediate" guidelines accepts in TLS 1.2
STRONG_SUITES = "ECDHE+AESGCM:ECDHE+CHACHA20"


# --- certificates ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Issued:
    key: object
    certificate: x509.Certificate


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def rsa_key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def issue(subject: str, key, issuer: Issued | None = None, *, ca: bool = False,
          hosts: tuple[str, ...] = ("127.0.0.1", "localhost"), algorithm=hashes.SHA256(),
          expired: bool = False) -> Issued:
    """A certificate for ``key``, signed by ``issuer`` (None: self-signed)."""
    start = NOW - dt.timedelta(days=400 if expired else 1)
    builder = (x509.CertificateBuilder()
               .subject_name(name(subject))
               .issuer_name(issuer.certificate.subject if issuer else name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start)
               .not_valid_after(start + dt.timedelta(days=90 if expired else 365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [_general_name(host) for host in hosts]), critical=False)
    return Issued(key, builder.sign(issuer.key if issuer else key, algorithm))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_sha1_signed(subject: str, key, issuer: Issued, folder: Path) -> Issued:
    """A certificate signed with SHA-1, by Debian's openssl: cryptography no longer signs so."""
    csr = (x509.CertificateSigningRequestBuilder().subject_name(name(subject))
           .sign(key, hashes.SHA256()))
    files = {"csr.pem": csr.public_bytes(serialization.Encoding.PEM), "ca.pem": pem(issuer),
             "ca.key": key_pem(issuer),
             "ext.cnf": b"basicConstraints=critical,CA:FALSE\n"
                        b"subjectAltName=IP:127.0.0.1,DNS:localhost\n"}
    for file_name, content in files.items():
        (folder / file_name).write_bytes(content)
    subprocess.run([require_binary("openssl"), "x509", "-req", "-sha1", "-days", "30",
                    "-set_serial", "1", "-in", "csr.pem", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-extfile", "ext.cnf", "-out", "leaf.pem"],
                   cwd=folder, check=True, capture_output=True, timeout=30)
    return Issued(key, x509.load_pem_x509_certificate((folder / "leaf.pem").read_bytes()))


def pem(issued: Issued) -> bytes:
    return issued.certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(issued: Issued) -> bytes:
    return issued.key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())


@dataclass(frozen=True)
class Pki:
    """A trusted root, an intermediate it signed, and a root nobody trusts."""

    root: Issued
    intermediate: Issued
    stranger: Issued
    trust_store: Path  # the root only, as the probe's cafile


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    root = issue("OWL Test Root", rsa_key(), ca=True)
    intermediate = issue("OWL Test Intermediate", rsa_key(), root, ca=True)
    stranger = issue("Unknown Root", rsa_key(), ca=True)
    store = tmp_path_factory.mktemp("trust") / "ca.pem"
    store.write_bytes(pem(root))
    return Pki(root, intermediate, stranger, store)


# --- servers ---------------------------------------------------------------------------------

class TlsServer:
    """A TLS server on 127.0.0.1 that completes handshakes (serially) and closes them."""

    def __init__(self, context: ssl.SSLContext):
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(5)
            try:
                with self.context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):  # a refused suite, a client that gave up on us
                connection.close()

    def __enter__(self) -> TlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


@contextmanager
def serving(tmp_path: Path, leaf: Issued, *chain: Issued, suites: str = STRONG_SUITES):
    """A server sending ``leaf`` then ``chain``, accepting ``suites`` in TLS 1.2 (and TLS 1.3)."""
    certfile, keyfile = tmp_path / "chain.pem", tmp_path / "key.pem"
    certfile.write_bytes(b"".join(pem(issued) for issued in (leaf, *chain)))
    keyfile.write_bytes(key_pem(leaf))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(suites + ":@SECLEVEL=0")  # so that it may load weak keys and serve
    context.load_cert_chain(certfile, keyfile)
    with TlsServer(context) as server:
        yield server


@contextmanager
def plain_tcp_server():
    """A server that answers like HTTP on a plain socket, never TLS."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]


# --- the probe -------------------------------------------------------------------------------

def target(url: str, tier: int = 2) -> Target:
    inventory = parse_inventory(inventory_text(client("acme", {"www": url}, tier=tier)))
    return Target(inventory.clients[0], site=inventory.clients[0].sites[0])


def offerable(suites: str) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(suites + ":@SECLEVEL=0")
    except ssl.SSLError:
        return False
    return True


TESTABLE = [group for group, suites in WEAK_CIPHER_GROUPS.items() if offerable(suites)]


class Prober:
    def __init__(self, trust_store: Path | None, groups=WEAK_CIPHER_GROUPS):
        self.kind = tls_probe(timeout=3, cafile=str(trust_store) if trust_store else None,
                              groups=groups)
        self.cache = ResultCache()
        self.registry = build_registry(self.cache)

    def run(self, url: str, tier: int = 2):
        return run_probe(self.kind, target(url, tier), self.cache)

    def value(self, metric: str, **labels):
        return self.registry.get_sample_value(metric, {**SITE, **labels})

    def chain_errors(self) -> dict[str, float]:
        return {reason: self.value("owl_site_tls_chain_error", reason=reason)
                for reason in CHAIN_ERRORS}

    def weaknesses(self) -> dict[str, float]:
        return {reason: self.value("owl_site_tls_certificate_weak", reason=reason)
                for reason in ("weak_signature", "short_key")}

    def accepted(self) -> dict[str, float | None]:
        return {group: self.value("owl_site_tls_weak_cipher_accepted", cipher_group=group)
                for group in WEAK_CIPHER_GROUPS}

    def success(self) -> float | None:
        return self.registry.get_sample_value("owl_probe_success", {"probe": "tls", **SITE})


def url(server) -> str:
    return f"https://127.0.0.1:{server.port}/"


def probed(pki: Pki, tmp_path: Path, leaf: Issued, *chain: Issued, suites: str = STRONG_SUITES,
           host: str = "127.0.0.1") -> Prober:
    prober = Prober(pki.trust_store)
    with serving(tmp_path, leaf, *chain, suites=suites) as server:
        run = prober.run(f"https://{host}:{server.port}/")
    assert run.result.success, run.result.error
    assert prober.success() == 1
    return prober


def chain_broken_by(reason: str) -> dict[str, int]:
    return {name: int(name == reason) for name in CHAIN_ERRORS}


def no_weak_cipher() -> dict[str, float | None]:
    return {group: (0 if group in TESTABLE else None) for group in WEAK_CIPHER_GROUPS}


# --- tests -----------------------------------------------------------------------------------

def test_a_well_configured_site_verifies_and_has_no_weakness(pki, tmp_path):
    prober = probed(pki, tmp_path, issue("www", rsa_key(), pki.intermediate), pki.intermediate)
    assert prober.value("owl_site_tls_chain_valid") == 1
    assert prober.chain_errors() == chain_broken_by("none")
    assert prober.weaknesses() == {"weak_signature": 0, "short_key": 0}
    assert prober.value("owl_site_tls_certificate_key_size", key_type="rsa") == 2048
    assert prober.value("owl_site_tls_certificate_signature_hash_info", hash="sha256") == 1
    assert prober.accepted() == no_weak_cipher()


def test_the_groups_the_local_openssl_cannot_offer_are_untested_not_refused(pki, tmp_path):
    prober = probed(pki, tmp_path, issue("www", rsa_key(), pki.root))
    for group in WEAK_CIPHER_GROUPS:
        testable = prober.registry.get_sample_value("owl_tls_cipher_group_testable",
                                                    {"cipher_group": group})
        assert testable == int(group in TESTABLE), group
    assert {"null", "anonymous", "static_rsa", "cbc"} <= set(TESTABLE)


def test_a_group_no_openssl_knows_is_untested_and_the_others_still_are(pki, tmp_path):
    prober = Prober(pki.trust_store, groups={"cbc": WEAK_CIPHER_GROUPS["cbc"],
                                             "imaginary": "NO-SUCH-SUITE"})
    with serving(tmp_path, issue("www", rsa_key(), pki.root)) as server:
        assert prober.run(url(server)).result.success
    assert prober.value("owl_site_tls_weak_cipher_accepted", cipher_group="imaginary") is None
    assert prober.value("owl_site_tls_weak_cipher_accepted", cipher_group="cbc") == 0
    assert prober.registry.get_sample_value("owl_tls_cipher_group_testable",
                                            {"cipher_group": "imaginary"}) == 0


@pytest.mark.parametrize("suites, weak_group", [
    ("ECDHE-RSA-AES128-SHA", "cbc"),  # CBC with SHA-1, forward secrecy
    ("ECDHE-RSA-AES256-SHA384", "cbc"),
    ("AES128-GCM-SHA256", "static_rsa"),  # no forward secrecy
    ("AECDH-AES128-SHA", "anonymous"),
    ("ECDHE-RSA-NULL-SHA", "null"),
])
def test_a_site_accepting_a_weak_suite_is_found_in_its_group_only(pki, tmp_path, suites,
                                                                  weak_group):
    prober = probed(pki, tmp_path, issue("www", rsa_key(), pki.root),
                    suites=f"{STRONG_SUITES}:{suites}")
    assert prober.accepted() == {**no_weak_cipher(), weak_group: 1}
    assert prober.value("owl_site_tls_chain_valid") == 1


def test_a_certificate_signed_with_sha1_is_weak_and_fails_verification_as_in_browsers(pki,
                                                                                       tmp_path):
    prober = probed(pki, tmp_path, issue_sha1_signed("www", rsa_key(), pki.root, tmp_path))
    assert prober.weaknesses() == {"weak_signature": 1, "short_key": 0}
    assert prober.value("owl_site_tls_certificate_signature_hash_info", hash="sha1") == 1
    assert prober.chain_errors() == chain_broken_by("weak_certificate")
    assert prober.value("owl_site_tls_chain_valid") == 0


def test_a_1024_bit_rsa_key_is_short_and_fails_verification_as_in_browsers(pki, tmp_path):
    prober = probed(pki, tmp_path, issue("www", rsa_key(1024), pki.root))
    assert prober.weaknesses() == {"weak_signature": 0, "short_key": 1}
    assert prober.value("owl_site_tls_certificate_key_size", key_type="rsa") == 1024
    assert prober.chain_errors() == chain_broken_by("weak_certificate")


@pytest.mark.parametrize("curve, bits, short", [(ec.SECP256R1(), 256, 0),
                                                (ec.SECP384R1(), 384, 0)])
def test_an_ec_key_of_256_bits_or_more_is_not_short(pki, tmp_path, curve, bits, short):
    prober = probed(pki, tmp_path, issue("www", ec.generate_private_key(curve), pki.root),
                    suites="ECDHE-ECDSA-AES128-GCM-SHA256")
    assert prober.value("owl_site_tls_certificate_key_size", key_type="ec") == bits
    assert prober.weaknesses() == {"weak_signature": 0, "short_key": short}
    assert prober.value("owl_site_tls_chain_valid") == 1


def test_a_self_signed_certificate_does_not_verify(pki, tmp_path):
    key = rsa_key()
    prober = probed(pki, tmp_path, issue("www", key))
    assert prober.chain_errors() == chain_broken_by("self_signed")
    assert prober.value("owl_site_tls_chain_valid") == 0
    assert prober.weaknesses() == {"weak_signature": 0, "short_key": 0}


def test_a_certificate_of_an_unknown_issuer_does_not_verify(pki, tmp_path):
    prober = probed(pki, tmp_path, issue("www", rsa_key(), pki.stranger))
    assert prober.chain_errors() == chain_broken_by("unknown_issuer")
    [run] = prober.cache.runs("tls")
    assert run.result.data.chain_message == "unable to get local issuer certificate"


def test_a_server_that_leaves_out_its_intermediate_does_not_verify(pki, tmp_path):
    prober = probed(pki, tmp_path, issue("www", rsa_key(), pki.intermediate))
    assert prober.chain_errors() == chain_broken_by("unknown_issuer")


def test_a_certificate_for_another_host_name_does_not_verify(pki, tmp_path):
    leaf = issue("www", rsa_key(), pki.root, hosts=("www.other.example",))
    assert probed(pki, tmp_path, leaf, host="localhost").chain_errors() == \
        chain_broken_by("hostname_mismatch")
    assert probed(pki, tmp_path, leaf).chain_errors() == chain_broken_by("hostname_mismatch")


def test_an_expired_certificate_does_not_verify(pki, tmp_path):
    prober = probed(pki, tmp_path, issue("www", rsa_key(), pki.root, expired=True))
    assert prober.chain_errors() == chain_broken_by("expired")


def test_without_a_trust_store_given_the_system_one_refuses_a_private_root(pki, tmp_path):
    prober = Prober(None)
    with serving(tmp_path, issue("www", rsa_key(), pki.root)) as server:
        assert prober.run(url(server)).result.success
    assert prober.chain_errors() == chain_broken_by("unknown_issuer")


def assert_failed_without_findings(prober: Prober, run, error: str):
    assert not run.result.success
    assert error in run.result.error
    assert prober.success() == 0
    exposition = generate_latest(prober.registry).decode()
    assert [line for line in exposition.splitlines()
            if line.startswith(("owl_site_tls", "owl_tls"))] == []


def test_a_port_that_does_not_speak_tls_is_a_failed_run_without_findings(pki):
    prober = Prober(pki.trust_store)
    with plain_tcp_server() as port:
        run = prober.run(f"https://127.0.0.1:{port}/")
    assert_failed_without_findings(prober, run, "TLS handshake failed")


def test_a_refused_connection_is_a_failed_run_without_findings(pki):
    prober = Prober(pki.trust_store)
    port = closed_port()
    run = prober.run(f"https://127.0.0.1:{port}/")
    assert_failed_without_findings(prober, run, f"127.0.0.1:{port}: cannot connect")


@pytest.mark.parametrize("site_url, tier, probed_", [
    ("https://www.acme.example/", 2, True),
    ("https://www.acme.example/", 4, True),
    ("https://www.acme.example/", 1, False),  # weak TLS is a vulnerability scan: tier 2 and up
    ("http://www.acme.example/", 3, False),  # no TLS to judge
])
def test_the_tls_kind_probes_the_https_sites_of_tier_2_and_up(site_url, tier, probed_):
    [kind] = [kind for kind in probe_kinds(ProbeContext()) if kind.name == "tls"]
    assert kind.applies_to(target(site_url, tier)) is probed_
    assert kind.interval == dt.timedelta(hours=12)


def test_the_tls_exposition_passes_promtool(pki, tmp_path):
    promtool = require_binary("promtool")
    prober = probed(pki, tmp_path, issue_sha1_signed("www", rsa_key(1024), pki.root, tmp_path),
                    suites=f"{STRONG_SUITES}:ECDHE-RSA-AES128-SHA:AES128-SHA")
    exposition = generate_latest(prober.registry)
    assert b"owl_site_tls_weak_cipher_accepted" in exposition
    check = subprocess.run([promtool, "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
