"""What the ``tls`` probe found on each HTTPS site (tier 2 and up)."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import SITE, CacheCollector, Gauge
from exporters.probes.tls import CHAIN_ERRORS


class TlsCollector(CacheCollector):
    """Series of the latest ``tls`` run on each site, present only if it succeeded.

    - ``owl_site_tls_chain_valid{client, site}``: 1 if the certificate chain verifies against the
      trust store and the site's host name, else 0.
    - ``owl_site_tls_chain_error{client, site, reason}``: 1 for the reason it does not verify,
      0 for every other reason of :data:`exporters.probes.tls.CHAIN_ERRORS` (``expired``,
      ``not_yet_valid``, ``self_signed``, ``unknown_issuer``, ``hostname_mismatch``,
      ``weak_certificate``, ``other``); all 0 when it verifies.
    - ``owl_site_tls_certificate_weak{client, site, reason}``: 1 if the leaf certificate has the
      weakness, else 0, for ``weak_signature`` (signed with MD5 or SHA-1) and ``short_key``
      (RSA or DSA under 2048 bits, EC under 256).
    - ``owl_site_tls_certificate_key_size{client, site, key_type}``: the size of the leaf
      certificate's public key, in bits (promtool refuses a ``_bits`` suffix); ``key_type`` is
      ``rsa``, ``ec``, ``dsa``, ``ed25519``, ``ed448`` or ``other``.
    - ``owl_site_tls_certificate_signature_hash_info{client, site, hash} 1``: the hash the leaf
      certificate is signed with (``sha256``, ``sha1``, ``md5``...; ``none`` for Ed25519 and
      Ed448, ``other`` when unknown).
    - ``owl_site_tls_weak_cipher_accepted{client, site, cipher_group}``: 1 if the server completes
      a handshake offering only that group's suites, else 0 (see
      :data:`exporters.probes.tls.WEAK_CIPHER_GROUPS`); no series for a group the exporter's
      OpenSSL cannot offer.
    - ``owl_tls_cipher_group_testable{cipher_group}``: 1 if the exporter's OpenSSL offered the
      group in the latest runs, 0 if it cannot (the group is not tested on any site). Present
      once a ``tls`` run has succeeded.
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (
            Gauge("owl_site_tls_chain_valid",
                  "Whether the site's certificate chain verifies against the trust store and "
                  "its host name.", SITE),
            Gauge("owl_site_tls_chain_error",
                  "Why the site's certificate chain does not verify (1 for the reason found).",
                  (*SITE, "reason")),
            Gauge("owl_site_tls_certificate_weak",
                  "Whether the site's certificate has a weak signature hash or a short key.",
                  (*SITE, "reason")),
            Gauge("owl_site_tls_certificate_key_size",
                  "Size of the public key of the site's certificate, in bits.",
                  (*SITE, "key_type")),
            Gauge("owl_site_tls_certificate_signature_hash_info",
                  "The hash the site's certificate is signed with.", (*SITE, "hash")),
            Gauge("owl_site_tls_weak_cipher_accepted",
                  "Whether the site accepts a handshake offering only a group of weak suites.",
                  (*SITE, "cipher_group")),
            Gauge("owl_tls_cipher_group_testable",
                  "Whether the exporter's OpenSSL can offer a group of weak suites.",
                  ("cipher_group",)),
        )

    def collect(self) -> Iterable[Gauge]:
        valid, error, weak, key_bits, signature, accepted, testable = families = self.families()
        testable_groups: dict[str, bool] = {}
        for run in self.cache.runs("tls"):
            if not run.result.success:
                continue
            labels = run.target.labels()
            report = run.result.data
            valid.add(labels, int(report.chain_error is None))
            for reason in CHAIN_ERRORS:
                error.add({**labels, "reason": reason}, int(reason == report.chain_error))
            for reason, found in report.certificate_weaknesses.items():
                weak.add({**labels, "reason": reason}, int(found))
            certificate = report.certificate
            key_bits.add({**labels, "key_type": certificate.key_type}, certificate.key_bits)
            signature.add({**labels, "hash": certificate.signature_hash}, 1)
            for group, is_accepted in report.weak_ciphers.items():
                testable_groups[group] = testable_groups.get(group, True) and \
                    is_accepted is not None
                if is_accepted is not None:
                    accepted.add({**labels, "cipher_group": group}, int(is_accepted))
        for group, can_offer in testable_groups.items():
            testable.add({"cipher_group": group}, int(can_offer))
        return families
