"""HTTP routes of the residents' voice (SPEC §9a): schema in, one service call, schema out."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("voice", __name__, description="Residents' voice: needs, evaluations, notice board")
from backend.voice import models as _models  # noqa: F401,E402  (tables in the metadata)
