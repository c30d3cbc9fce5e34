"""Splitting the targets between several exporter instances: ``--shard I/N``.

Shards are numbered from 1 to N. A target belongs to shard ``crc32(key) % N + 1`` where ``key`` is
``client/id`` (its client id and its site or server id) encoded in UTF-8. CRC-32 is stable across
processes, Python versions and machines (unlike ``hash()``), so every instance started with the
same N agrees on the split, and a target only moves when N changes or the target is renamed.
The function is :func:`owl.sharding.shard_of`, which ``owl config render --shards N`` splits the
Prometheus targets with, so that Prometheus shard I scrapes the targets exporter I probes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from owl.sharding import shard_of

__all__ = ["Shard", "parse_shard", "shard_of"]

_SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1 <= index <= count)."""

    index: int = 1
    count: int = 1

    def owns(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``; raises ValueError for anything else."""
    match = _SHARD.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a shard such as 1/3 (shard I of N, 1 <= I <= N)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise ValueError(f"shard {text!r}: I must be between 1 and N")
    return Shard(index, count)
