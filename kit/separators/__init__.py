"""Separation methods behind one interface (see ``base.Separator``)."""

from .base import Separator
from .registry import get_separator, list_models, stems_for

__all__ = ["Separator", "get_separator", "list_models", "stems_for"]
