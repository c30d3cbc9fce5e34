"""Prometheus alert rules, one file per area; their ``promtool test rules`` files are in ``tests/``.

A package so that the rule files ship as package data: ``owl config render`` copies every
``*.yml`` file here (``tests/`` left out) to ``prometheus/rules/``, beside ``generated.yml``
(calendar months, contract ends and probe schedules from the inventory:
``owl.render.generated_rules``). Every alert carries ``severity`` (critical, major or minor;
``none`` for the Watchdog) and, when it is about a client, ``client`` and the target's ``site`` or
``server`` label, all taken from the alerting series; client alerts fire only for the contracts
monitored now, from the tier that includes them (``contracts.yml``). Alerts without ``client`` are
provider-internal. Security alerts say ``category="security"``. Runbooks: ``docs/runbooks.md``.
"""

# The always-firing heartbeat of stack.yml: routed to the dead man's switch, and to the bridge,
# which takes it as proof that Alertmanager reaches it, not as an incident.
WATCHDOG_ALERT = "Watchdog"
