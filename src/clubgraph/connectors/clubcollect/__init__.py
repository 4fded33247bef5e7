"""ClubCollect API v2: companies, imports and invoices reached by id."""

from .connector import ClubCollectConnector
from .credentials import DEV_CREDENTIALS, ClubCollectCredentials
from .index import InvoiceIndex

__all__ = ["DEV_CREDENTIALS", "ClubCollectConnector", "ClubCollectCredentials", "InvoiceIndex"]
