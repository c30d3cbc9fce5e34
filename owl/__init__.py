"""Shared core of owl-monitoring: the inventory, calendars, config rendering and the ``owl`` command."""
