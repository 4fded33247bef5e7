import { createHash } from "node:crypto";

// Upstream JSON -> the shapes the schema resolves, close to clubgraph's mapping.
// Amounts: strings with two decimals, computed through integer cents (Math.round on
// major-unit floats), not clubgraph's exact decimal arithmetic; good enough to
// compare shapes and sizes, not to the cent in every rounding corner.

export const globalId = (type, source, tenant, id) =>
  Buffer.from(`${type}|${source}|${tenant}|${id}`).toString("base64url");

export function centsText(cents) {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(Math.round(cents));
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}
const toCents = (major) => Math.round(Number(major || 0) * 100);
const money = (cents, currency) => ({ amount: centsText(cents), currency });
const num = (value) => String(value ?? 1);

// ISO 8601 with the offset kept; "YYYY-MM-DD" as midnight UTC; epoch ms as UTC.
function isoDate(value) {
  if (value == null || value === "") return null;
  if (typeof value === "number") return new Date(value).toISOString().replace(/\.000Z$|Z$/, "+00:00");
  if (value.length === 10) return `${value}T00:00:00+00:00`;
  return value.replace(/Z$/, "+00:00");
}

const clientRef = (source, tenant, id) => (id == null ? null : { source, tenant: String(tenant), id: String(id) });

// --- FitnessForce -------------------------------------------------------------------
const FF_STATUS = {
  Draft: "DRAFT", Unpaid: "OPEN", PartiallyPaid: "PARTIALLY_PAID", Paid: "PAID",
  PaymentFailed: "PAYMENT_FAILED", Void: "VOID", WrittenOff: "VOID", Refunded: "REFUNDED",
  PartiallyRefunded: "REFUNDED",
};
const FF_SUB_STATUS = {
  Pending: "PENDING", Active: "ACTIVE", PendingCancellation: "ACTIVE", Frozen: "FROZEN",
  Cancelled: "CANCELLED", Expired: "EXPIRED", Void: "VOID",
};
const FF_INTERVAL = {
  OneTime: "ONE_TIME", Weekly: "WEEKLY", Fortnightly: "BI_WEEKLY", Monthly: "MONTHLY",
  Quarterly: "QUARTERLY", HalfYearly: "OTHER", Yearly: "YEARLY",
};

export function ffInvoice(raw, tenant) {
  const cur = raw.currency_code;
  const upstreamId = `${raw.client_id}/${raw.invoice_id}`;
  return {
    id: globalId("Invoice", "fitnessforce", tenant, upstreamId),
    source: "FITNESSFORCE",
    number: raw.invoice_number,
    status: FF_STATUS[raw.status] || "UNKNOWN",
    statusRaw: raw.status,
    issuedAt: isoDate(raw.invoice_date),
    dueAt: isoDate(raw.due_date),
    total: money(toCents(raw.net_amount), cur),
    amountPaid: money(toCents(raw.paid_amount), cur),
    balanceDue: money(toCents(raw.balance_amount), cur),
    items: (raw.invoice_details || []).map((d) => ({
      id: globalId("InvoiceItem", "fitnessforce", tenant, `${upstreamId}/${d.invoice_detail_id}`),
      description: d.charge_name || "",
      quantity: num(d.quantity),
      unitPrice: money(toCents(d.unit_price), cur),
      total: money(toCents(d.net_amount), cur),
    })),
    clientRef: clientRef("FITNESSFORCE", tenant, raw.client_id),
  };
}

export const ffClient = (raw, tenant) => ({
  id: globalId("Client", "fitnessforce", tenant, raw.client_id),
  name: raw.full_name || [raw.first_name, raw.last_name].filter(Boolean).join(" ") || String(raw.client_id),
  email: raw.email || null,
  ref: clientRef("FITNESSFORCE", tenant, raw.client_id),
});

export const ffSubscription = (raw, tenant) => ({
  id: globalId("Subscription", "fitnessforce", tenant, `${raw.client_id}/${raw.subscription_id}`),
  planName: raw.plan_name || "",
  status: FF_SUB_STATUS[raw.subscription_status] || "UNKNOWN",
  interval: FF_INTERVAL[raw.billing_frequency] || "UNKNOWN",
  price: raw.recurring_amount == null ? null : money(toCents(raw.recurring_amount), raw.currency_code),
});

// --- TimeTap ------------------------------------------------------------------------
const TT_OPEN = {
  undefined: "OPEN", null: "OPEN", "No Payment": "OPEN", Manual: "OPEN",
  "Partial Payment": "PARTIALLY_PAID", "Payment Declined": "PAYMENT_FAILED",
};
function ttStatus(raw) {
  if (raw.active === false || raw.status === "DELETED") return "DELETED";
  if (raw.status === "OPEN") return TT_OPEN[raw.subStatus] || "UNKNOWN";
  return { CLOSED: "PAID", VOID: "VOID" }[raw.status] || "UNKNOWN";
}

export function ttInvoice(raw) {
  const tenant = String(raw.businessId);
  const cur = raw.currency || "USD";
  const total =
    toCents(raw.subtotalAmount) + toCents(raw.taxAmount) + toCents(raw.tax2Amount) +
    toCents(raw.tipAmount) + toCents(raw.transactionFeeAmount);
  const paid = toCents(raw.paidAmount);
  return {
    id: globalId("Invoice", "timetap", tenant, raw.invoiceId),
    source: "TIMETAP",
    number: raw.invoiceNumber,
    status: ttStatus(raw),
    statusRaw: raw.subStatus ? `${raw.status}/${raw.subStatus}` : raw.status,
    issuedAt: isoDate(raw.invoiceDate),
    dueAt: isoDate(raw.invoiceDueDate),
    total: money(total, cur),
    amountPaid: money(paid, cur),
    balanceDue: money(raw.balanceAmount != null ? toCents(raw.balanceAmount) : total - paid, cur),
    items: (raw.invoiceItem || [])
      .filter((i) => i.active !== false)
      .map((i) => {
        const net = i.netAmount != null ? toCents(i.netAmount) : toCents(i.rate) * Number(i.quantity ?? 1);
        return {
          id: globalId("InvoiceItem", "timetap", tenant, `${raw.invoiceId}/${i.invoiceItemId}`),
          description: i.description || "",
          quantity: num(i.quantity),
          unitPrice: money(toCents(i.rate), cur),
          total: money(net + toCents(i.taxAmount) + toCents(i.tax2Amount), cur),
        };
      }),
    clientRef: raw.client ? clientRef("TIMETAP", tenant, raw.client.clientId) : null,
    // TimeTap embeds the client: the client loader is primed with it.
    embeddedClient: raw.client ? ttClient(raw.client, tenant) : null,
  };
}

export function ttClient(raw, tenant) {
  const name = raw.fullName || [raw.firstName, raw.lastName].filter(Boolean).join(" ");
  return {
    id: globalId("Client", "timetap", tenant, raw.clientId),
    name: name || raw.emailAddress || `Client ${raw.clientId}`,
    email: raw.emailAddress || null,
    ref: clientRef("TIMETAP", tenant, raw.clientId),
  };
}

// --- ClubCollect --------------------------------------------------------------------
const CC_STATUS = {
  draft: "DRAFT", transmitted: "OPEN", payment_in_progress: "OPEN", partially_paid: "PARTIALLY_PAID",
  paid: "PAID", chargeback: "PAYMENT_FAILED", retracted: "VOID", credited: "VOID", refunded: "REFUNDED",
};
function ccIsPayment(type) {
  const t = String(type || "").toUpperCase();
  if (["PAYMENT-LINE", "PAYMENT", "JEUGDFONDS", "CHARGEBACK-LINE", "CHARGEBACK"].includes(t)) return true;
  if (t.startsWith("PAYMENT-") || t.endsWith("-PAYMENT-LINE")) return true;
  return t.startsWith("CHARGEBACK-") && !t.startsWith("CHARGEBACK-FEE");
}
const ccText = (v) => (typeof v === "string" && v.trim() ? v.trim() : null);

// ClubCollect has no customer resource: clubgraph keys the customer by membership
// number, else email, else a hash of name and address.
function ccCustomerKey(raw) {
  const member = ccText(raw.club_membership_number);
  if (member) return member;
  const email = ccText(raw.customer?.email?.email_address);
  if (email) return email.toLowerCase();
  const name = raw.customer?.name || {};
  const addr = raw.customer?.address || {};
  const parts = [
    ...["first_name", "infix", "last_name"].map((k) => String(name[k] || "").trim().toLowerCase()),
    ...["address1", "house_number", "zipcode", "city", "country_code"].map((k) =>
      String(addr[k] || "").trim().toLowerCase(),
    ),
  ];
  return `h-${createHashHex(parts.join("|")).slice(0, 16)}`;
}
const createHashHex = (text) => createHash("sha1").update(text).digest("hex");

export function ccInvoice(raw, company, currency) {
  const lines = raw.invoice_lines || [];
  const items = lines.filter((l) => !ccIsPayment(l.type));
  const total = items.reduce((s, l) => s + Number(l.amount_cents), 0);
  const paid = -lines.filter((l) => ccIsPayment(l.type)).reduce((s, l) => s + Number(l.amount_cents), 0);
  const customerKey = ccCustomerKey(raw);
  const name = raw.customer?.name || {};
  const last = ccText(name.last_name);
  const infix = ccText(name.infix);
  const display =
    ccText(name.organization) ||
    [ccText(name.first_name), infix && last ? `${infix} ${last}` : last].filter(Boolean).join(" ") ||
    customerKey;
  return {
    id: globalId("Invoice", "clubcollect", company, raw.invoice_id),
    source: "CLUBCOLLECT",
    number: ccText(raw.external_invoice_number) || ccText(raw.invoice_number),
    status: CC_STATUS[raw.status] || "UNKNOWN",
    statusRaw: raw.status || "",
    issuedAt: isoDate(raw.transmitted_at || raw.created_at),
    dueAt: isoDate(raw.due_date),
    total: money(total, currency),
    amountPaid: money(paid, currency),
    balanceDue: money(total - paid, currency),
    items: items.map((l) => ({
      id: globalId("InvoiceItem", "clubcollect", company, `${raw.invoice_id}/${l.invoice_line_id}`),
      description: l.description || String(l.type || ""),
      quantity: "1",
      unitPrice: money(Number(l.amount_cents), currency),
      total: money(Number(l.amount_cents), currency),
    })),
    clientRef: clientRef("CLUBCOLLECT", company, customerKey),
    embeddedClient: {
      id: globalId("Client", "clubcollect", company, customerKey),
      name: display,
      email: ccText(raw.customer?.email?.email_address),
      ref: clientRef("CLUBCOLLECT", company, customerKey),
    },
  };
}

// --- Tight --------------------------------------------------------------------------
function tightStatus(raw) {
  if (raw.status === "OPEN") {
    if (Number(raw.amountPaid || 0) > 0) return Number(raw.balance || 0) <= 0 ? "PAID" : "PARTIALLY_PAID";
    return "OPEN";
  }
  return { DRAFT: "DRAFT", SCHEDULED: "SCHEDULED", CLOSED: "PAID", CANCELLED: "VOID", REFUNDED: "REFUNDED" }[
    raw.status
  ] || "UNKNOWN";
}
const TIGHT_SUB_STATUS = { OPEN: "ACTIVE", SCHEDULED: "ACTIVE", CANCELLED: "CANCELLED", CLOSED: "EXPIRED", DRAFT: "PENDING" };
const TIGHT_INTERVAL = {
  ONE_TIME: "ONE_TIME", WEEKLY: "WEEKLY", BI_WEEKLY: "BI_WEEKLY", MONTHLY: "MONTHLY", YEARLY: "YEARLY",
  AFTER_TWO_MINS: "OTHER",
};
const tightTotal = (raw) => (raw.totalAmountCents != null ? raw.totalAmountCents : toCents(raw.totalAmount));

export function tightInvoice(raw) {
  const tenant = String(raw.businessId ?? "");
  const cur = raw.currency || "USD";
  const total = tightTotal(raw);
  const paid = toCents(raw.amountPaid);
  return {
    id: globalId("Invoice", "tight", tenant, raw.id),
    source: "TIGHT",
    number: raw.invoiceNo == null ? null : `${raw.invoicePrefix || ""}${raw.invoiceNo}`,
    status: tightStatus(raw),
    statusRaw: raw.status || "",
    issuedAt: isoDate(raw.date),
    dueAt: isoDate(raw.dueDate),
    total: money(total, cur),
    amountPaid: money(paid, cur),
    balanceDue: money(raw.balance != null ? toCents(raw.balance) : total - paid, cur),
    items: (raw.lineItems || []).map((l, i) => {
      const amount = l.amount != null ? toCents(l.amount) : Math.round(Number(l.quantity ?? 1) * toCents(l.price));
      const tax = Math.round((amount * Number(l.salesTax || 0)) / 100);
      return {
        id: globalId("InvoiceItem", "tight", tenant, `${raw.id}/${l.id ?? i}`),
        description: l.description || "",
        quantity: num(l.quantity),
        unitPrice: money(toCents(l.price), cur),
        total: money(amount + tax, cur),
      };
    }),
    clientRef: clientRef("TIGHT", tenant, raw.clientId),
  };
}

export const tightClient = (raw, tenant) => ({
  id: globalId("Client", "tight", raw.businessId ?? tenant, raw.id),
  name: raw.name || [raw.firstName, raw.lastName].filter(Boolean).join(" ") || String(raw.id),
  email: raw.email || null,
  ref: clientRef("TIGHT", raw.businessId ?? tenant, raw.id),
});

export const tightSubscription = (raw) => ({
  id: globalId("Subscription", "tight", String(raw.businessId ?? ""), raw.id),
  planName: raw.name || "",
  status: TIGHT_SUB_STATUS[raw.status] || "UNKNOWN",
  interval: TIGHT_INTERVAL[raw.frequency] || "UNKNOWN",
  price: money(tightTotal(raw), raw.currency || "USD"),
});
