// REST access to the four clubgraph sandbox upstreams: authentication, discovery of
// tenants, and the raw calls the resolvers make. No caching across requests except
// access tokens, the tenants each source reaches, and the ClubCollect date index.
import { createHash } from "node:crypto";

// Credentials from the harness's SANDBOX_* variables, else the sandbox's development
// credentials (the connectors' DEV_CREDENTIALS).
const E = process.env;
const FF_USER = {
  username: E.SANDBOX_FITNESSFORCE_USERNAME || "sandbox",
  password: E.SANDBOX_FITNESSFORCE_PASSWORD || "sandbox-secret",
};
const TT_KEYS = (E.SANDBOX_TIMETAP_API_KEYS || "tt-dev-50101-4f1c:pk-50101-9a7e3d21c6b84f05,tt-dev-50102-b83a:pk-50102-2c5f8e17a9d04b63")
  .split(",")
  .map((pair) => pair.trim().split(":"));
const CC_API_KEY = E.SANDBOX_CLUBCOLLECT_API_KEY || "cc_sandbox_partner_9f3b7c2e41d8";
const TIGHT_CLIENT = {
  client_id: E.SANDBOX_TIGHT_CLIENT_ID || "clubgraph-dev",
  client_secret: E.SANDBOX_TIGHT_CLIENT_SECRET || "tight-sandbox-secret-7001",
};

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value.replace(/\/+$/, "");
}

export const urls = {
  fitnessforce: () => env("SANDBOX_FITNESSFORCE_URL"),
  timetap: () => env("SANDBOX_TIMETAP_URL"),
  clubcollect: () => env("SANDBOX_CLUBCOLLECT_URL"),
  tight: () => env("SANDBOX_TIGHT_URL"),
};

export class UpstreamError extends Error {}

async function http(url, { method = "GET", headers = {}, body } = {}) {
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  if (!response.ok) {
    const err = new UpstreamError(`${method} ${url} -> ${response.status}: ${text.slice(0, 200)}`);
    err.status = response.status;
    throw err;
  }
  return text ? JSON.parse(text) : null;
}

// A bearer token obtained once and renewed when an upstream answers 401.
class Token {
  constructor(fetchToken) {
    this.fetchToken = fetchToken;
    this.pending = null;
  }
  get() {
    if (!this.pending) {
      this.pending = this.fetchToken().catch((e) => {
        this.pending = null;
        throw e;
      });
    }
    return this.pending;
  }
  async call(url, options = {}) {
    const token = await this.get();
    try {
      return await http(url, { ...options, headers: { ...options.headers, Authorization: `Bearer ${token}` } });
    } catch (e) {
      if (e.status !== 401) throw e;
      if (this.pending && (await this.pending) === token) this.pending = null;
      const fresh = await this.get();
      return http(url, { ...options, headers: { ...options.headers, Authorization: `Bearer ${fresh}` } });
    }
  }
}

const qs = (params) => new URLSearchParams(params).toString();

// --- FitnessForce UFP -------------------------------------------------------------
const ffToken = new Token(async () => {
  const body = await http(`${urls.fitnessforce()}/authentication/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(FF_USER),
  });
  return body.access_token;
});

export const fitnessforce = {
  async tenants() {
    const body = await ffToken.call(`${urls.fitnessforce()}/tenants?${qs({ page_size: 200 })}`);
    return body.data.map((t) => String(t.tenant_id));
  },
  // One page of a tenant's invoices, newest first ({data, total_records}).
  invoices(tenant, pageSize) {
    const params = { sort_by: "invoice_date", sort_order: "desc", page_number: 1, page_size: pageSize };
    return ffToken.call(`${urls.fitnessforce()}/tenant/${tenant}/invoices?${qs(params)}`);
  },
  client(tenant, id) {
    return ffToken.call(`${urls.fitnessforce()}/tenant/${tenant}/clients/${id}`);
  },
  async subscriptions(tenant, clientId) {
    const params = { page_number: 1, page_size: 200 };
    const body = await ffToken.call(
      `${urls.fitnessforce()}/tenant/${tenant}/clients/${clientId}/subscriptions?${qs(params)}`,
    );
    return body.data;
  },
};

// --- TimeTap ----------------------------------------------------------------------
// One session token per API key; each key belongs to one business.
const ttTokens = TT_KEYS.map(
  ([apiKey, privateKey]) =>
    new Token(async () => {
      const params = {
        apiKey,
        timestamp: Math.floor(Date.now() / 1000),
        signature: createHash("md5").update(apiKey + privateKey).digest("hex"),
      };
      const body = await http(`${urls.timetap()}/sessionToken?${qs(params)}`);
      return body.sessionToken;
    }),
);

export const timetap = {
  // [{business, token}] for every key.
  async businesses() {
    return Promise.all(
      ttTokens.map(async (token) => {
        const body = await token.call(`${urls.timetap()}/business`);
        return { business: String(body.businessId), token };
      }),
    );
  },
  // One page of one status list, newest first (an array; TimeTap gives no count).
  invoices(token, status, pageSize) {
    const params = { pageNumber: 1, pageSize, order_field: "invoiceDate", order_mode: "desc" };
    return token.call(`${urls.timetap()}/invoices/status/${status}?${qs(params)}`);
  },
};

// --- ClubCollect ------------------------------------------------------------------
const ccHeaders = () => ({ Authorization: `ApiKey ${CC_API_KEY}` });

async function ccPaged(path, key) {
  const rows = [];
  for (let page = 1; ; page++) {
    const body = await http(`${urls.clubcollect()}${path}?${qs({ page_number: page, page_size: 100 })}`, {
      headers: ccHeaders(),
    });
    rows.push(...body[key]);
    if (!body.page || page >= body.page.total_pages) return rows;
  }
}

async function mapLimited(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

export const clubcollect = {
  invoice(id) {
    return http(`${urls.clubcollect()}/api/v2/invoices/${id}`, { headers: ccHeaders() });
  },
  // ClubCollect has no invoice list: like clubgraph, keep an index of every invoice's
  // id, company and issue instant, built once at start-up from the companies' imports.
  async buildIndex() {
    const companies = await ccPaged("/api/v2/companies", "companies");
    const index = [];
    for (const company of companies) {
      const imports = await ccPaged(`/api/v2/companies/${company.company_id}/imports`, "imports");
      const details = await mapLimited(imports, 8, (imp) =>
        http(`${urls.clubcollect()}/api/v2/imports/${imp.import_id}`, { headers: ccHeaders() }),
      );
      const ids = details.flatMap((d) => d.invoice_ids || []);
      const invoices = await mapLimited(ids, 8, (id) => clubcollect.invoice(id));
      for (const inv of invoices) {
        index.push({
          id: inv.invoice_id,
          company: company.company_id,
          currency: company.currency || "EUR",
          issuedAt: inv.transmitted_at || inv.created_at,
        });
      }
    }
    index.sort((a, b) => Date.parse(b.issuedAt) - Date.parse(a.issuedAt));
    return index;
  },
};

// --- Tight ------------------------------------------------------------------------
const tightToken = new Token(async () => {
  const body = await http(`${urls.tight()}/v5/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: qs({ ...TIGHT_CLIENT, grant_type: "client_credentials" }),
  });
  return body.access_token;
});

export const tight = {
  // One page of invoices, newest first ({data, totalCount}).
  invoices(pageSize) {
    const params = { sort: "date", sortDirection: "DESC", page: 1, pageSize };
    return tightToken.call(`${urls.tight()}/v5/invoicing/invoices?${qs(params)}`);
  },
  client(id) {
    return tightToken.call(`${urls.tight()}/v5/invoicing/clients/${id}`);
  },
  // A client's recurring parents (Tight's recurring plans), newest first.
  async recurringParents(clientId) {
    const params = { clientId, isRecurringParent: "true", sort: "date", sortDirection: "DESC", page: 1, pageSize: 500 };
    const body = await tightToken.call(`${urls.tight()}/v5/invoicing/invoices?${qs(params)}`);
    return body.data.filter((i) => i.frequency !== "ONE_TIME");
  },
};
