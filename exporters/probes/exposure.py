"""Sensitive files a site should not serve, each recognised by its content, not by a 200 alone
(many sites answer 200, with their home page or a "not found" page, for any path).

:data:`SENSITIVE_FILES` is the fixed list (the ``path`` label's values). A file counts as exposed
when it answers 200 and its first bytes have the file's signature; ``xmlrpc.php`` counts when
WordPress's XML-RPC endpoint answers a GET with its ``XML-RPC server accepts POST requests only``
(status 405 since WordPress 4.x, 200 before): it is reachable, not blocked. Which files are
checked depends on the CMS found (a Drupal site is not asked for ``wp-config.php~``); every file
is checked when no CMS was recognised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from exporters.probes.fetcher import Fetcher
from exporters.probes.page import Page
from exporters.probes.wordpress import is_readme

_PHP_CONFIG = re.compile(r"define\s*\(\s*['\"]DB_(?:NAME|USER|PASSWORD)['\"]")
_DRUPAL_CHANGELOG = re.compile(r"^\s*Drupal \d+\.\d+", re.MULTILINE)
_GIT_HEAD = re.compile(r"^(?:ref: refs/\S+|[0-9a-f]{40})\s*$")
_ENV_LINE = re.compile(r"^[A-Z][A-Z0-9_]*=", re.MULTILINE)


def _dotenv(text: str) -> bool:
    return not text.lstrip().startswith("<") and len(_ENV_LINE.findall(text)) >= 2


def _joomla_config(text: str) -> bool:
    return "class JConfig" in text


@dataclass(frozen=True)
class SensitiveFile:
    path: str
    looks_right: Callable[[str], bool]
    cms: str | None  # checked on sites of this CMS (and on unrecognised sites); None: on all
    statuses: tuple[int, ...] = (200,)


SENSITIVE_FILES = (
    SensitiveFile(".git/HEAD", lambda text: bool(_GIT_HEAD.match(text)), None),
    SensitiveFile(".env", _dotenv, None),
    SensitiveFile("readme.html", is_readme, "wordpress"),
    SensitiveFile("wp-config.php.bak", lambda text: bool(_PHP_CONFIG.search(text)), "wordpress"),
    SensitiveFile("wp-config.php~", lambda text: bool(_PHP_CONFIG.search(text)), "wordpress"),
    SensitiveFile(".wp-config.php.swp", lambda text: bool(_PHP_CONFIG.search(text)), "wordpress"),
    SensitiveFile("wp-config.php.save", lambda text: bool(_PHP_CONFIG.search(text)), "wordpress"),
    SensitiveFile("xmlrpc.php", lambda text: "XML-RPC server accepts POST requests only" in text,
                  "wordpress", (200, 405)),
    SensitiveFile("CHANGELOG.txt", lambda text: bool(_DRUPAL_CHANGELOG.search(text)), "drupal"),
    SensitiveFile("core/CHANGELOG.txt", lambda text: bool(_DRUPAL_CHANGELOG.search(text)),
                  "drupal"),
    SensitiveFile("configuration.php~", _joomla_config, "joomla"),
    SensitiveFile("configuration.php.bak", _joomla_config, "joomla"),
)
PATHS = tuple(file.path for file in SENSITIVE_FILES)
_READ = 8192


def exposed_files(page: Page, fetcher: Fetcher, cms: str | None) -> dict[str, bool]:
    """``{path: exposed}`` for the files of :data:`SENSITIVE_FILES` that apply to ``cms``."""
    found = {}
    for file in SENSITIVE_FILES:
        if file.cms is not None and cms is not None and file.cms != cms:
            continue
        answer = fetcher.get(page.under(file.path), max_bytes=_READ)
        text = answer.body.decode("utf-8", errors="replace")
        found[file.path] = answer.status in file.statuses and file.looks_right(text)
    return found
