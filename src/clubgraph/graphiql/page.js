// clubgraph's GraphiQL page: the canonical workloads W1-W4 as tabs, a headers template
// for a bearer token, and every request to this server only.
(function () {
  "use strict";

  const examples = JSON.parse(document.getElementById("clubgraph-examples").textContent);
  // The style element GraphiQL's menus and dialogs add (to stop the page scrolling behind
  // them) takes its nonce from here: the page's policy allows no other inline style.
  window.__webpack_nonce__ = document.querySelector('meta[name="clubgraph-style-nonce"]').content;
  const url = new URL(examples.graphqlPath, window.location.href);
  url.search = "";
  url.hash = "";
  const subscriptionUrl = new URL(url);
  subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";

  // JSON has no comments: a header whose name starts with "//" is one, and is not sent.
  const HEADERS = JSON.stringify(
    {
      "//": "Sandbox mode: no token needed (you act as the demo staff user).",
      "// mint": "clubgraph token --role staff --tenants '*' --sub you",
      "// send": "remove the // before Authorization, token after Bearer",
      "// Authorization": "Bearer <token>",
    },
    null,
    2,
  );
  // W4ReadBack reads back what W4CreateInvoice created last on this page while its "id" is this.
  const CREATED = "<the id W4CreateInvoice returned>";

  const PREFACE = {
    W1: "# ▶ (or Ctrl-Enter) runs it. A token: see Headers, below.\n",
    W2: "# 500 invoices in one page: CLUBGRAPH_MAX_PAGE_SIZE must allow it (make run sets 500).\n",
    W3: "# The client in Variables is one this page looked up when it loaded.\n",
    W4:
      "# First W4CreateInvoice: ▶ asks which operation to run (or Ctrl-Enter with the cursor in\n" +
      "# it). Then W4ReadBack: cursor in it, Ctrl-Enter. While its \"id\" is the text below,\n" +
      `# it reads back the invoice just created: ${JSON.stringify(CREATED)}.\n` +
      "# Running W4CreateInvoice again with the same idempotencyKey returns the first result and\n" +
      "# writes nothing: change the key (and the number) for another invoice.\n",
  };

  // One JSON answer per request (no incremental delivery): W4CreateInvoice's is read here.
  const base = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
    enableIncrementalDelivery: false,
  });
  let created = null;

  function fetcher(params, options) {
    const headers = {};
    for (const [name, value] of Object.entries((options && options.headers) || {})) {
      if (!name.startsWith("//")) headers[name] = value;
    }
    let sent = params;
    if (params.operationName === "W4ReadBack" && created && params.variables?.id === CREATED) {
      sent = { ...params, variables: { ...params.variables, id: created } };
    }
    const result = base(sent, { ...options, headers });
    if (params.operationName !== "W4CreateInvoice") return result;
    return Promise.resolve(result).then((answer) => {
      const id = answer?.data?.createInvoice?.invoice?.id;
      if (id) created = id;
      return answer;
    });
  }

  function randomHex(bytes) {
    const values = crypto.getRandomValues(new Uint8Array(bytes));
    return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A client for W3: the featured member when the data has them, else the first client.
  async function memberId() {
    const query =
      "query GraphiQLExample($email: String!) { featured: clients(first: 1, email: $email) " +
      "{ nodes { id } } any: clients(first: 1) { nodes { id } } }";
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10000);
    try {
      const response = await fetch(url.href, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query, variables: { email: examples.featuredMember } }),
        signal: abort.signal,
      });
      const data = (await response.json()).data || {};
      const node = data.featured?.nodes?.[0] || data.any?.nodes?.[0];
      return node ? node.id : null;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  function tabs(clientId) {
    const json = (value) => JSON.stringify(value, null, 2);
    const key = randomHex(8);
    const lines = [
      { description: "Monthly membership", quantity: "1", unitPrice: "49.95" },
      { description: "Personal training", quantity: "2", unitPrice: "35.10" },
      { description: "Towel service", quantity: "3", unitPrice: "0.10" },
    ];
    const input = {
      idempotencyKey: `graphiql-${key}`,
      source: "CLUBCOLLECT",
      tenantId: "cmp_amsterdam_hc",
      number: `GQL-${key.slice(0, 8).toUpperCase()}`,
      recipient: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.org" },
      lines,
      total: "120.45",
    };
    const w3 = clientId
      ? PREFACE.W3
      : "# No client could be looked up (a token may be needed): put one's id in Variables,\n" +
        "# from { clients(first: 1) { nodes { id } } }.\n";
    return [
      { query: PREFACE.W1 + examples.workloads.W1, variables: json({ first: 50 }) },
      { query: PREFACE.W2 + examples.workloads.W2, variables: json({ first: 500 }) },
      {
        query: w3 + examples.workloads.W3,
        variables: json({ clientId: clientId || "<a client id>" }),
      },
      { query: PREFACE.W4 + examples.workloads.W4, variables: json({ input, id: CREATED }) },
    ].map((tab) => ({ ...tab, headers: HEADERS }));
  }

  // GraphiQL keeps its tabs in localStorage: under keys of this page's own, so that another
  // GraphiQL once served on this origin does not bring its tabs here.
  const storage = {
    getItem: (key) => localStorage.getItem(`clubgraph:${key}`),
    setItem: (key, value) => localStorage.setItem(`clubgraph:${key}`, value),
    removeItem: (key) => localStorage.removeItem(`clubgraph:${key}`),
    clear: () => {
      for (const key of Object.keys(localStorage)) {
        if (key.startsWith("clubgraph:")) localStorage.removeItem(key);
      }
    },
    get length() {
      return Object.keys(localStorage).filter((key) => key.startsWith("clubgraph:")).length;
    },
  };

  memberId().then((clientId) => {
    const defaultTabs = tabs(clientId);
    const root = ReactDOM.createRoot(document.getElementById("graphiql"));
    root.render(
      React.createElement(GraphiQL, {
        fetcher,
        storage,
        defaultTabs,
        // With saved tabs, W1 as it is written comes back (selected) beside them.
        query: defaultTabs[0].query,
        variables: defaultTabs[0].variables,
        defaultQuery: PREFACE.W1 + examples.workloads.W1,
        defaultHeaders: HEADERS,
        isHeadersEditorEnabled: true,
        defaultEditorToolsVisibility: "headers",
        shouldPersistHeaders: false,
        inputValueDeprecation: true,
        plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      }),
    );
  });
})();
