"""The ``tls`` probe (tier 2 and up): weak TLS beyond the protocol version, on HTTPS sites.

blackbox_exporter already checks the certificate's expiry and whether TLS 1.0 or 1.1 is accepted
(``alert_rules/sites.yml``); HSTS is one of the vulnerabilities probe's security headers. This
probe adds, for each site whose URL is ``https://``, on the URL's host and port:

1. one handshake that verifies the chain against the trust store (the system's, unless
   ``cafile``) and the host name, as a browser would (OpenSSL's security level 2: RSA keys of
   2048 bits and more, no SHA-1 signatures). A verification error gives a reason of
   :data:`CHAIN_ERRORS`;
2. one handshake without verification, to read the leaf certificate: its signature hash and its
   public key (type and size), judged by :func:`certificate_weaknesses`;
3. one handshake per group of :data:`WEAK_CIPHER_GROUPS`, offering only that group's suites in
   TLS 1.2 (TLS 1.3 has no weak suite; TLS 1.0 and 1.1 are blackbox's ``SiteLegacyTlsAccepted``). A group the local OpenSSL cannot offer at all
   (Debian's has no RC4, DES, 3DES nor EXPORT suites) is not tested, never "not accepted".

A connection that cannot be made, or a first handshake that fails for another reason than the
certificate (not TLS, no common protocol or suite), fails the run: no finding is guessed.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from exporters.probe import ProbeError, ProbeKind, ProbeResult
from exporters.targets import Target
from owl.inventory import DEFAULT_PROBE_INTERVALS

INTERVAL = DEFAULT_PROBE_INTERVALS["tls"]
CONNECT_TIMEOUT = 5.0
MIN_TIER = 2
# Groups of suites a serious scanner calls weak, named as testssl.sh's cipher categories, and left
# out by Mozilla's "intermediate" server configuration (the one it recommends for general sites),
# as OpenSSL cipher strings. SSL Labs grades the last two WEAK as well.
WEAK_CIPHER_GROUPS = {
    "null": "eNULL",  # no encryption
    "anonymous": "aNULL:!eNULL",  # no server authentication: anyone in the middle can answer
    "export": "EXPORT",  # 40/56-bit export grade (FREAK, Logjam)
    "rc4": "RC4",  # forbidden by RFC 7465
    "des": "DES",  # single DES, 56-bit keys
    "3des": "3DES",  # 64-bit blocks (Sweet32)
    # RSA key exchange: no forward secrecy, and the ROBOT family of attacks
    "static_rsa": "kRSA:!eNULL",
    # CBC with forward secrecy (MAC-then-encrypt: Lucky13, POODLE-style padding oracles)
    "cbc": "kECDHE+AES:kDHE+AES:kECDHE+CAMELLIA:kDHE+CAMELLIA:!AESGCM:!AESCCM:!aNULL:!eNULL",
}
# Level 0: the client may offer what OpenSSL's defaults refuse (SHA-1 and MD5 MACs among them).
_OFFER_ANYTHING = ":!PSK:!SRP:@SECLEVEL=0"
# OpenSSL verification codes (X509_V_ERR_*) -> the reason label; any other code is "other".
_VERIFY_CODES = {
    10: "expired",
    9: "not_yet_valid",
    18: "self_signed",  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: "self_signed",  # SELF_SIGNED_CERT_IN_CHAIN: a private root
    # UNABLE_TO_GET_ISSUER_CERT(_LOCALLY), UNABLE_TO_VERIFY_LEAF_SIGNATURE: an intermediate the
    # server does not send, or an issuer the trust store does not know
    2: "unknown_issuer",
    20: "unknown_issuer",
    21: "unknown_issuer",
    62: "hostname_mismatch",
    64: "hostname_mismatch",  # IP_ADDRESS_MISMATCH: a site addressed by its IP address
    # EE_KEY_TOO_SMALL, CA_KEY_TOO_SMALL, CA_MD_TOO_WEAK: refused by browsers too
    66: "weak_certificate",
    67: "weak_certificate",
    68: "weak_certificate",
}
CHAIN_ERRORS = ("expired", "not_yet_valid", "self_signed", "unknown_issuer", "hostname_mismatch",
                "weak_certificate", "other")
WEAK_SIGNATURE_HASHES = {"md5", "sha1"}
# Shortest acceptable keys (bits), as Mozilla's guidelines and the CA/Browser Forum's rules say.
MIN_KEY_BITS = {"rsa": 2048, "dsa": 2048, "ec": 256}
CERTIFICATE_WEAKNESSES = ("weak_signature", "short_key")


@dataclass(frozen=True)
class Certificate:
    """What the leaf certificate says about its strength."""

    signature_hash: str  # md5, sha1, sha256...; "none" (Ed25519, Ed448), "other" if unknown
    key_type: str  # rsa, ec, dsa, ed25519, ed448, other
    key_bits: int


@dataclass(frozen=True)
class TlsReport:
    chain_error: str | None  # one of CHAIN_ERRORS; None: the chain verifies
    chain_message: str  # OpenSSL's verification message, "" when it verifies
    certificate: Certificate
    weak_ciphers: Mapping[str, bool | None]  # group -> accepted; None: not tested

    @property
    def certificate_weaknesses(self) -> dict[str, bool]:
        return certificate_weaknesses(self.certificate)


def is_https(target: Target) -> bool:
    return target.site.url.lower().startswith("https://")


def endpoint(url: str) -> tuple[str, int]:
    """The host and port of an ``https://`` URL (443 by default)."""
    parts = urlsplit(url)
    try:
        port = parts.port or 443
    except ValueError:
        raise ProbeError(f"site url {url!r}: the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ProbeError(f"site url {url!r}: no host name")
    return parts.hostname, port


def certificate_weaknesses(certificate: Certificate) -> dict[str, bool]:
    """``{weakness: found}`` for each of :data:`CERTIFICATE_WEAKNESSES`."""
    minimum = MIN_KEY_BITS.get(certificate.key_type, 0)
    return {"weak_signature": certificate.signature_hash in WEAK_SIGNATURE_HASHES,
            "short_key": certificate.key_bits < minimum}


def read_certificate(der: bytes) -> Certificate:
    leaf = x509.load_der_x509_certificate(der)
    key_type, bits = _key_of(leaf.public_key())
    return Certificate(_signature_hash(leaf), key_type, bits)


def _signature_hash(leaf: x509.Certificate) -> str:
    try:
        algorithm = leaf.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "other"
    return algorithm.name.replace("-", "_") if algorithm is not None else "none"


def _key_of(key) -> tuple[str, int]:
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456
    return "other", 0


class TlsProbe:
    """Runs of the ``tls`` probe, verifying against ``cafile`` (None: the system trust store),
    trying the suites of ``groups`` (name -> OpenSSL cipher string)."""

    def __init__(self, cafile: str | None = None, timeout: float = CONNECT_TIMEOUT,
                 groups: Mapping[str, str] = WEAK_CIPHER_GROUPS):
        self.cafile = cafile
        self.timeout = timeout
        self.groups = dict(groups)

    def __call__(self, target: Target) -> ProbeResult:
        host, port = endpoint(target.site.url)
        chain_error, message = self.verify(host, port)
        certificate = read_certificate(self.leaf_der(host, port))
        ciphers = {group: self.accepts(host, port, suites)
                   for group, suites in self.groups.items()}
        return ProbeResult.ok(TlsReport(chain_error, message, certificate, ciphers))

    def verify(self, host: str, port: int) -> tuple[str | None, str]:
        """(reason, OpenSSL's message) when the chain does not verify, else (None, "")."""
        context = ssl.create_default_context(cafile=self.cafile)
        # OpenSSL's DEFAULT suites, not Python's narrower choice: a browser accepts CBC suites
        context.set_ciphers("DEFAULT:@SECLEVEL=2")
        try:
            with self._handshake(context, host, port):
                pass
        except ssl.SSLCertVerificationError as error:
            return _VERIFY_CODES.get(error.verify_code, "other"), error.verify_message
        except (ssl.SSLError, ConnectionError) as error:
            raise ProbeError(f"{host}:{port}: TLS handshake failed: {error}") from None
        return None, ""

    def leaf_der(self, host: str, port: int) -> bytes:
        context = _unverified_context()
        context.set_ciphers("ALL" + _OFFER_ANYTHING)
        try:
            with self._handshake(context, host, port) as tls:
                return tls.getpeercert(binary_form=True)
        except (ssl.SSLError, ConnectionError) as error:
            raise ProbeError(f"{host}:{port}: TLS handshake without verification failed: "
                             f"{error}") from None

    def accepts(self, host: str, port: int, suites: str) -> bool | None:
        """Whether the server completes a handshake offering only ``suites``; None when the
        local OpenSSL cannot offer any of them."""
        context = _unverified_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.set_ciphers(suites + _OFFER_ANYTHING)
        except ssl.SSLError:
            return None
        try:
            with self._handshake(context, host, port):
                return True
        # a refusal is an alert, or a connection closed or reset in the middle of the handshake
        except (ssl.SSLError, ConnectionError):
            return False

    def _handshake(self, context: ssl.SSLContext, host: str, port: int) -> ssl.SSLSocket:
        """An open TLS connection to ``host:port``; a connection that cannot be made (refused,
        unreachable, no answer in time) is a :class:`ProbeError`."""
        try:
            raw = socket.create_connection((host, port), timeout=self.timeout)
        except OSError as error:
            raise ProbeError(f"{host}:{port}: cannot connect: {error}") from None
        try:
            return context.wrap_socket(raw, server_hostname=host)
        except TimeoutError:
            raw.close()
            raise ProbeError(f"{host}:{port}: no TLS answer within {self.timeout}s") from None
        except BaseException:
            raw.close()
            raise


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_probe(interval: dt.timedelta = INTERVAL, timeout: float = CONNECT_TIMEOUT,
              cafile: str | None = None,
              groups: Mapping[str, str] = WEAK_CIPHER_GROUPS) -> ProbeKind:
    # at most 2 + len(groups) connections, each within ``timeout``
    run_timeout = timeout * (2 + len(groups)) + 1
    return ProbeKind("tls", TlsProbe(cafile, timeout, groups), interval, run_timeout,
                     min_tier=MIN_TIER, wants=is_https)


def tls_kind(context) -> ProbeKind:
    """The ``tls`` kind on the HTTPS sites of tier 2 and up, on the inventory's schedule,
    verifying against the system trust store."""
    return tls_probe().scheduled(context.schedule("tls"))
