"""The incidents pages."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("web_incidents", __name__)
