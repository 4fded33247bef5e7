"""Tight's v5 JSON, as TypedDicts (every field may be absent or null upstream)."""

from __future__ import annotations

from typing import Any, TypedDict

# Tight writes dollar amounts, quantities and rates as JSON numbers.
Number = int | float


class TightLineItem(TypedDict, total=False):
    id: int
    description: str
    quantity: Number
    price: Number
    salesTax: Number | None  # a percent rate
    amount: Number  # quantity x price, before tax
    expenseId: int | None
    glAccountId: int | None
    apiItemId: str | None
    customData: dict[str, Any]


class TightInstallment(TypedDict, total=False):
    id: int
    name: str
    dueDate: str
    amount: Number
    percentage: Number
    status: str
    balance: Number


class TightPayment(TypedDict, total=False):
    id: int
    invoiceId: int
    apiName: str
    apiPaymentId: str
    grossPaymentAmount: Number
    feePaymentAmount: Number
    amountApplied: Number
    paymentSource: str
    date: str
    status: str


class TightInvoice(TypedDict, total=False):
    id: int
    apiInvoiceId: str | None
    v6InvoiceId: str
    clientId: int | None
    businessId: int
    date: str
    name: str
    invoiceNo: int | None
    invoicePrefix: str | None
    totalAmount: Number
    totalAmountCents: int
    balance: Number
    discountAmount: Number | None
    discountPercent: Number | None
    term: str
    dueDate: str | None
    personalNote: str | None
    frequency: str
    status: str
    emailStatus: str
    sendEmail: bool
    sentDate: str | None
    lastViewedDate: str | None
    reminderSchedule: str | None
    lastCreatedRecurringInvoice: str | None
    parentId: int | None
    isRecurringParent: bool
    refundStatus: str | None
    emailErrors: dict[str, Any]
    invoicePdfUrl: str
    invoicePaymentUrl: str
    lineItems: list[TightLineItem]
    installments: list[TightInstallment]
    payments: list[TightPayment]
    pendingPaymentAmount: Number
    clientName: str
    email: str
    ccEmails: str
    bccEmails: str
    businessName: str
    clientInvoiceKey: str
    amountPaid: Number
    paidDate: str | None
    acceptACH: bool
    acceptCredit: bool
    acceptCash: bool
    salesTax: Number
    customData: dict[str, Any]
    apiName: str
    currency: str


class TightClient(TypedDict, total=False):
    id: int
    businessId: int
    name: str
    firstName: str | None
    lastName: str | None
    email: str | None
    phone: str | None
    address1: str | None
    city: str | None
    zip: str | None
    country: str | None
    createdDate: str
    status: str


class TightBusiness(TypedDict, total=False):
    id: int
    name: str
    currency: str


class TightPage(TypedDict, total=False):
    data: list[Any]
    page: int
    pageSize: int
    totalCount: int


class TightToken(TypedDict, total=False):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    created_at: int
    scope: str
