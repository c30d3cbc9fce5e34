"""The pure SLA core: functions of the contract and of timestamped events, no I/O."""
