"""Comparing the versions of CMS cores, plugins and modules, with ``packaging``.

``packaging`` orders PEP 440 versions, which covers most CMS versions once a few spellings of the
CMS world are translated (:func:`parse`):

- Magento's patch releases ``2.4.7-p3`` come after ``2.4.7``: ``2.4.7.post3``;
- Composer's development branches ``10.2.x-dev``: the ``x`` is above every release of the branch
  (``10.2.9999999.dev0``, as Composer reads it), and ``-dev`` is a development release;
- Drupal contributed modules' ``8.x-1.5`` is version ``1.5`` of a module for Drupal 8;
- ``4.0.0-beta``, ``5.0.0-RC2``, ``1.2-alpha1`` are pre-releases, before ``4.0.0``;
- four numbers (PrestaShop ``1.7.8.10``) compare number by number, so ``1.7.8.10 > 1.7.8.9``;
- a leading ``v`` is dropped.

Anything else is refused with :class:`packaging.version.InvalidVersion`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from packaging.version import InvalidVersion, Version

__all__ = ["InvalidVersion", "Version", "parse", "is_valid", "same_branch", "major"]

_BRANCH_X = 9999999
_DRUPAL_CONTRIB = re.compile(r"^\d+\.x-(.+)$")
_MAGENTO_PATCH = re.compile(r"^(.*\d)-p(\d+)$", re.IGNORECASE)


@lru_cache(maxsize=4096)
def parse(text: str) -> Version:
    """The ``packaging`` version of a CMS version string; InvalidVersion if it is not one."""
    original = text
    text = text.strip().removeprefix("v").removeprefix("V")
    contrib = _DRUPAL_CONTRIB.match(text)
    if contrib:
        text = contrib.group(1)
    patch = _MAGENTO_PATCH.match(text)
    if patch:
        text = f"{patch.group(1)}.post{patch.group(2)}"
    if text.lower().endswith("-dev"):
        text = text[:-4] + ".dev0"
    text = re.sub(r"(?<=\.)x(?=$|\.)", str(_BRANCH_X), text, flags=re.IGNORECASE)
    try:
        return Version(text)
    except InvalidVersion:
        raise InvalidVersion(f"{original!r} is not a version") from None


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except InvalidVersion:
        return False
    return True


def major(text: str) -> int:
    return parse(text).release[0]


def same_branch(version: str, branch: str) -> bool:
    """Whether ``version`` belongs to ``branch``: ``6.8.1`` is in ``6.8`` and ``6``,
    ``2.4.7-p3`` in ``2.4.7``, ``1.7.8.10`` in ``1.7.8`` (number by number, not by prefix:
    ``10.10.1`` is not in ``10.1``)."""
    release = parse(version).release
    wanted = parse(branch).release
    return release[:len(wanted)] == wanted
