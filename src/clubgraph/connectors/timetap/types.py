"""The JSON TimeTap returns, as decoded by the connector (amounts are Decimal or int)."""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

# Documented as "integer" but carries cents; decoded exactly (never float).
Amount = Decimal | int


class SessionTokenJSON(TypedDict):
    """``GET /sessionToken``."""

    sessionToken: str


class BusinessJSON(TypedDict, total=False):
    """``GET /business``."""

    businessId: int
    businessName: str
    currency: str
    timeZone: str


class ClientJSON(TypedDict, total=False):
    """A client object."""

    clientId: int
    businessId: int
    firstName: str | None
    lastName: str | None
    fullName: str | None
    emailAddress: str | None
    cellPhone: str | None
    homePhone: str | None
    workPhone: str | None
    address1: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None
    createdDate: int | None
    active: bool
    status: str


class ClientListJSON(TypedDict):
    """``GET /clientList/reportWithCount``."""

    count: int
    clientList: list[ClientJSON]


class InvoiceItemJSON(TypedDict, total=False):
    """An invoiceItem object."""

    invoiceItemId: int
    invoiceId: int | None
    businessId: int
    clientId: int
    active: bool
    itemType: str | None
    description: str | None
    quantity: Amount
    rate: Amount
    grossAmount: Amount | None
    discountAmount: Amount | None
    discountPercentage: Amount | None
    netAmount: Amount | None
    taxable: bool
    taxAmount: Amount | None
    tax2Amount: Amount | None
    calendarId: int | None
    productId: int | None
    packageSoldId: int | None
    recurringAppointmentId: int | None
    giftCardUUId: int | None
    reasonId: int | None
    createdDate: int | None
    createdUser: str | None
    modifiedUser: str | None


class LocationJSON(TypedDict, total=False):
    """An invoice's location."""

    locationId: int
    locationName: str


class StaffJSON(TypedDict, total=False):
    """An invoice's staff member."""

    professionalId: int
    fullName: str


class InvoiceJSON(TypedDict, total=False):
    """An invoice object with its embedded client and lines."""

    invoiceId: int
    businessId: int
    invoiceNumber: str | None
    invoiceType: str
    invoiceHash: str
    status: str
    subStatus: str | None
    active: bool
    currency: str | None
    invoiceDate: int
    invoiceDueDate: int | None
    chargeDate: int | None
    createdDate: int | None
    lastStatusDate: int | None
    paidOnDate: int | None
    createdUser: str | None
    modifiedUser: str | None
    comments: str | None
    preAuthPayment: bool
    billingLocationId: int | None
    billingStaffId: int | None
    subtotalAmount: Amount | None
    taxAmount: Amount | None
    tax2Amount: Amount | None
    tipAmount: Amount | None
    transactionFeeAmount: Amount | None
    depositAmount: Amount | None
    paidAmount: Amount | None
    writeOffAmount: Amount | None
    balanceAmount: Amount | None
    client: ClientJSON
    location: LocationJSON | None
    staff: StaffJSON | None
    invoiceItem: list[InvoiceItemJSON]


class ErrorJSON(TypedDict, total=False):
    """One error of an error body."""

    errorCode: str
    errorMessage: str
    fieldName: str | None


class ErrorBodyJSON(TypedDict):
    """An error response body."""

    errors: list[ErrorJSON]
