"""FitnessForce UFP: tenant-scoped clients, invoices and memberships."""

from .connector import FitnessForceConnector
from .credentials import DEV_CREDENTIALS, FitnessForceCredentials

__all__ = ["DEV_CREDENTIALS", "FitnessForceConnector", "FitnessForceCredentials"]
