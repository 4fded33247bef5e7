"""TimeTap: business-scoped invoices and clients over session-token auth."""

from .connector import TimeTapConnector
from .credentials import DEV_CREDENTIALS, ApiKeyPair, TimeTapCredentials

__all__ = ["DEV_CREDENTIALS", "ApiKeyPair", "TimeTapConnector", "TimeTapCredentials"]
