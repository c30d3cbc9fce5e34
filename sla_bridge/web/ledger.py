"""The ledger pages."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("web_ledger", __name__)
