"""The SLA bridge: turns Alertmanager notifications into SLA-tracked incidents and ledgers.

``engine`` is the pure core (deadlines, statuses, ledgers); ``storage`` keeps incidents and the
event history; ``service`` ties them together; ``api`` is the thin Flask shell around it.
"""
