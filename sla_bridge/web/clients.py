"""The clients pages."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("web_clients", __name__)
