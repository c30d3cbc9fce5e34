"""``blackbox/blackbox.yml``: the probe modules the ``blackbox_*`` scrape jobs name.

Module timeouts are upper bounds: blackbox_exporter also stays within the scrape timeout that
Prometheus announces with every probe request.
"""

from __future__ import annotations

from owl.render.serialize import to_yaml

CONFIG_PATH = "blackbox/blackbox.yml"
# Registered 2xx and 3xx codes: a site answering any of them (after redirects) is up.
HTTP_OK_STATUS_CODES = [*range(200, 209), 226, *range(300, 306), 307, 308]
SSH_BANNER = "^SSH-2.0-"
# Sent after the banner so that sshd logs a named client rather than a protocol error.
SSH_IDENTIFICATION = "SSH-2.0-owl-monitoring-probe"
# What defacers write on the pages they replace ("Hacked by ...", "h4ck3d", "0wn3d by ..."), in
# the page or in its title. "owned by" alone is ordinary prose: only its leet spelling counts.
_DEFACER_WORDS = r"(h[a4]ck[e3]d|d[e3]f[a4]c[e3]d|0wn[e3]d|pwn[e3]d)"
DEFACEMENT_MARKERS = [
    rf"(?i)\b{_DEFACER_WORDS}\s+by\b",
    rf"(?i)<title[^>]*>[^<]*\b{_DEFACER_WORDS}\b",
]


def render_blackbox() -> dict[str, str]:
    return {CONFIG_PATH: to_yaml({"modules": blackbox_modules()})}


def blackbox_modules() -> dict:
    return {
        "http_2xx": http_module(),
        # fails on a page that answers but shows a defacer's marks (job blackbox_defacement)
        "http_defacement": http_module(fail_if_body_matches_regexp=DEFACEMENT_MARKERS),
        "tcp_connect": tcp_module(),
        "ssh_banner": tcp_module(query_response=[{"expect": SSH_BANNER},
                                                 {"send": SSH_IDENTIFICATION}]),
        "tls_connect": tcp_module(tls=True),
        # succeeds only if the server still accepts TLS 1.0 or 1.1 (job blackbox_tls_legacy); the
        # certificate is judged by http_2xx, not here
        "tls_legacy": tcp_module(tls=True, tls_config={
            "min_version": "TLS10", "max_version": "TLS11", "insecure_skip_verify": True}),
    }


def http_module(**http_options) -> dict:
    return {"prober": "http", "timeout": "10s",
            "http": {"preferred_ip_protocol": "ip4", "follow_redirects": True,
                     "valid_status_codes": list(HTTP_OK_STATUS_CODES), **http_options}}


def tcp_module(**tcp_options) -> dict:
    return {"prober": "tcp", "timeout": "5s",
            "tcp": {"preferred_ip_protocol": "ip4", **tcp_options}}
