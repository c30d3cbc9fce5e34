"""Every advisory lock class of the bridge on PostgreSQL, in one place so that no two collide.

A class is the first key of PostgreSQL's two-key advisory locks (``pg_advisory_lock(int, int)``);
the second is a hash or 0. ``0x6F776C`` is "owl" in ASCII, keeping clear of other applications'
locks on a shared server.
"""

MIGRATION = 0x6F776C00  # replicas take turns to migrate (storage.database)
FINGERPRINTS = 0x6F776C01  # deliveries of the same alert, in buckets (storage.queries)
CONTRACT_HISTORY = 0x6F776C02  # recording contract snapshots (storage.queries)
MAINTENANCE_WINDOWS = 0x6F776C10  # identical announcements (maintenance, storage.named_locks)
IDEMPOTENCY_KEYS = 0x6F776C11  # requests with the same Idempotency-Key (idempotency)
