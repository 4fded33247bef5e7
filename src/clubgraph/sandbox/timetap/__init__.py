"""The TimeTap sandbox: a faithful twin of TimeTap's invoice API over seeded data."""

from .app import create_app

__all__ = ["create_app"]
