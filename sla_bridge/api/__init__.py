"""The bridge's HTTP interface (v1): a thin shell around the service."""
