"""Helpers shared by the tests: real binaries, free ports, processes that are waited for."""
