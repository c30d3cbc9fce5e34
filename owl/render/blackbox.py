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


def render_blackbox() -> dict[str, str]:
    return {CONFIG_PATH: to_yaml({"modules": blackbox_modules()})}


def blackbox_modules() -> dict:
    return {
        "http_2xx": {
            "prober": "http",
            "timeout": "10s",
            "http": {
                "preferred_ip_protocol": "ip4",
                "follow_redirects": True,
                "valid_status_codes": HTTP_OK_STATUS_CODES,
            },
        },
        "tcp_connect": tcp_module(),
        "ssh_banner": tcp_module(query_response=[{"expect": SSH_BANNER},
                                                 {"send": SSH_IDENTIFICATION}]),
        "tls_connect": tcp_module(tls=True),
    }


def tcp_module(**tcp_options) -> dict:
    return {"prober": "tcp", "timeout": "5s",
            "tcp": {"preferred_ip_protocol": "ip4", **tcp_options}}
