"""Tight (formerly Hurdlr): invoices, clients and recurring invoice plans."""

from .connector import TightConnector
from .credentials import DEV_CREDENTIALS, TightCredentials

__all__ = ["DEV_CREDENTIALS", "TightConnector", "TightCredentials"]
