"""Prometheus alert rules, one file per area; their ``promtool test rules`` files are in ``tests/``.

A package so that the rule files ship as package data: ``owl config render`` copies every
``*.yml`` file here (``tests/`` left out) to ``prometheus/rules/``. Every alert carries
``severity`` (critical, major or minor; ``none`` for the Watchdog) and, when it is about a client,
``client`` and the target's ``site`` or ``server`` label, all taken from the alerting series.
Alerts without ``client`` are provider-internal. Runbooks: ``docs/runbooks.md``.
"""
