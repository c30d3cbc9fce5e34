"""The probe catalogue. Each module holds one probe kind and what it needs; the list of kinds the
exporter runs is :data:`exporters.kinds.PROBES`."""
