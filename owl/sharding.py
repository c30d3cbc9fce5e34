"""Which of N shards a target belongs to: the one split that the exporters (``owl exporter
--shard I/N``) and the sharded Prometheus configuration (``owl config render --shards N``) share.

Shards are numbered from 1 to N. A target belongs to shard ``crc32(key) % N + 1`` where ``key`` is
``client/id`` (its client id and its site or server id) encoded in UTF-8. CRC-32 is stable across
processes, Python versions and machines (unlike ``hash()``), so every instance started with the
same N agrees on the split, and a target only moves when N changes or the target is renamed.
"""

from __future__ import annotations

import zlib


def target_key(client: str, target: str) -> str:
    """The key a site or server ``target`` of ``client`` is split by."""
    return f"{client}/{target}"


def shard_of(key: str, count: int) -> int:
    """The shard (1..count) that ``key`` belongs to."""
    return zlib.crc32(key.encode("utf-8")) % count + 1
