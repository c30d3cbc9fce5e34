"""The maintenances pages."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("web_maintenances", __name__)
