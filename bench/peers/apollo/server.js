// Benchmark peer: Apollo Server 5 (standalone) with per-request DataLoaders, the way
// Apollo's documentation recommends (a context function that creates the loaders
// for each request), over the four clubgraph sandbox upstreams. It answers
// clubgraph's W0 and W1 documents verbatim; see README.md for what it implements.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import DataLoader from "dataloader";

import * as m from "./mapping.js";
import { clubcollect, fitnessforce, tight, timetap } from "./sandbox.js";

const typeDefs = `#graphql
  schema { query: Query }

  enum Source { FITNESSFORCE TIMETAP CLUBCOLLECT TIGHT }

  type Query {
    "Invoices of every source (or those given), newest first; only the first page."
    invoices(first: Int = 50, source: [Source!], tenant: String): InvoiceConnection!
  }

  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type Money { amount: String! currency: String! }

  type InvoiceConnection {
    totalCount: Int
    pageInfo: PageInfo!
    edges: [InvoiceEdge!]!
    nodes: [Invoice!]!
  }
  type InvoiceEdge { cursor: String! node: Invoice! }

  type Invoice {
    id: ID!
    source: Source!
    number: String
    status: String!
    statusRaw: String!
    issuedAt: String!
    dueAt: String
    total: Money!
    amountPaid: Money!
    balanceDue: Money!
    items: InvoiceItemConnection!
    client: Client
  }
  type InvoiceItemConnection { nodes: [InvoiceItem!]! }
  type InvoiceItem { id: ID! description: String! quantity: String! unitPrice: Money! total: Money! }

  type Client {
    id: ID!
    name: String!
    email: String
    subscriptions: SubscriptionConnection!
  }
  type SubscriptionConnection { nodes: [Subscription!]! }
  type Subscription { id: ID! planName: String! status: String! interval: String! price: Money }
`;

// What the sources reach, discovered once at start-up (before the port opens).
const reach = { ffTenants: [], ttBusinesses: [], ccIndex: [] };

const refKey = (ref) => `${ref.source}|${ref.tenant}|${ref.id}`;

// One set of loaders per GraphQL request. No source has a get-many endpoint for
// clients or subscriptions, so a batch is one call per distinct key, issued together
// in one tick: DataLoader removes the N+1 duplicates, not the per-entity calls.
function createLoaders() {
  const clients = new DataLoader(
    (refs) =>
      Promise.all(
        refs.map(async (ref) => {
          if (ref.source === "FITNESSFORCE") return m.ffClient(await fitnessforce.client(ref.tenant, ref.id), ref.tenant);
          if (ref.source === "TIGHT") return m.tightClient(await tight.client(ref.id), ref.tenant);
          // TimeTap and ClubCollect clients come embedded in their invoices (primed).
          return new Error(`no client ${refKey(ref)}`);
        }),
      ),
    { cacheKeyFn: refKey },
  );
  const subscriptions = new DataLoader(
    (refs) =>
      Promise.all(
        refs.map(async (ref) => {
          if (ref.source === "FITNESSFORCE") {
            const rows = await fitnessforce.subscriptions(ref.tenant, ref.id);
            return rows.map((s) => m.ffSubscription(s, ref.tenant));
          }
          if (ref.source === "TIGHT") return (await tight.recurringParents(ref.id)).map(m.tightSubscription);
          return []; // TimeTap and ClubCollect have no subscriptions.
        }),
      ),
    { cacheKeyFn: refKey },
  );
  const ccInvoices = new DataLoader(
    (entries) =>
      Promise.all(entries.map(async (e) => m.ccInvoice(await clubcollect.invoice(e.id), e.company, e.currency))),
    { cacheKeyFn: (e) => e.id },
  );
  return { clients, subscriptions, ccInvoices };
}

// One newest-first page of each upstream list the arguments select.
function sourceLists({ first, source, tenant }, loaders) {
  const wanted = new Set(source && source.length ? source : ["FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT"]);
  const keep = (t) => tenant == null || String(t) === tenant;
  const lists = [];
  if (wanted.has("FITNESSFORCE")) {
    for (const t of reach.ffTenants.filter(keep)) {
      lists.push(
        fitnessforce.invoices(t, first).then((body) => ({
          rows: body.data.map((r) => m.ffInvoice(r, t)),
          total: body.total_records,
        })),
      );
    }
  }
  if (wanted.has("TIMETAP")) {
    for (const { business, token } of reach.ttBusinesses.filter((b) => keep(b.business))) {
      for (const status of ["OPEN", "CLOSED", "VOID"]) {
        lists.push(
          timetap.invoices(token, status, first).then((rows) => ({
            rows: rows.map(m.ttInvoice),
            total: null, // TimeTap's lists carry no count
            more: rows.length >= first,
          })),
        );
      }
    }
  }
  if (wanted.has("CLUBCOLLECT")) {
    const indexed = reach.ccIndex.filter((e) => keep(e.company));
    // The index knows each invoice's issue instant: merge its entries, then read only
    // the ClubCollect invoices that make the page.
    const rows = indexed.slice(0, first).map((entry) => ({ ccEntry: entry, issuedAt: entry.issuedAt }));
    lists.push(Promise.resolve({ rows, total: indexed.length }));
  }
  if (wanted.has("TIGHT")) {
    lists.push(
      tight.invoices(first).then((body) => {
        const rows = body.data.filter((r) => keep(r.businessId)).map(m.tightInvoice);
        return { rows, total: tenant == null ? body.totalCount : null, more: body.totalCount > first };
      }),
    );
  }
  return lists;
}

const resolvers = {
  Query: {
    async invoices(_, args, { loaders }) {
      const first = args.first ?? 50;
      if (first < 0 || first > 500) throw new Error("first must be between 0 and 500");
      const lists = await Promise.all(sourceLists({ ...args, first }, loaders));
      const all = lists.flatMap((l) => l.rows);
      all.sort((a, b) => Date.parse(b.issuedAt) - Date.parse(a.issuedAt));
      const page = await Promise.all(
        all.slice(0, first).map((inv) => (inv.ccEntry ? loaders.ccInvoices.load(inv.ccEntry) : inv)),
      );
      for (const inv of page) {
        if (inv.embeddedClient) loaders.clients.prime(inv.clientRef, inv.embeddedClient);
      }
      const edges = page.map((node, i) => ({ cursor: Buffer.from(`offset:${i}`).toString("base64url"), node }));
      const counts = lists.map((l) => l.total);
      return {
        totalCount: counts.every((c) => c != null) ? counts.reduce((a, b) => a + b, 0) : null,
        pageInfo: {
          hasNextPage: all.length > first || lists.some((l) => l.more || (l.total != null && l.total > l.rows.length)),
          endCursor: edges.length ? edges[edges.length - 1].cursor : null,
        },
        edges,
        nodes: page,
      };
    },
  },
  Invoice: {
    items: (invoice) => ({ nodes: invoice.items }),
    client: (invoice, _, { loaders }) => (invoice.clientRef ? loaders.clients.load(invoice.clientRef) : null),
  },
  Client: {
    subscriptions: async (client, _, { loaders }) => ({ nodes: await loaders.subscriptions.load(client.ref) }),
  },
};

async function discover() {
  const [ffTenants, ttBusinesses, ccIndex] = await Promise.all([
    fitnessforce.tenants(),
    timetap.businesses(),
    clubcollect.buildIndex(),
  ]);
  Object.assign(reach, { ffTenants, ttBusinesses, ccIndex });
}

const port = Number(process.env.PORT || 4000);
const started = Date.now();
await discover();
const server = new ApolloServer({ typeDefs, resolvers });
const { url } = await startStandaloneServer(server, {
  listen: { port, host: "127.0.0.1" },
  context: async () => ({ loaders: createLoaders() }),
});
console.log(
  `apollo peer ready at ${url}graphql in ${Date.now() - started} ms ` +
    `(fitnessforce tenants ${reach.ffTenants.join(",")}; timetap businesses ` +
    `${reach.ttBusinesses.map((b) => b.business).join(",")}; clubcollect index ${reach.ccIndex.length} invoices)`,
);
