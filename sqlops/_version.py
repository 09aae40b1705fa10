"""The package version, in a module of its own: any layer may import it without the facade."""

from __future__ import annotations

__version__ = "0.1.0"
