// The graphql-ws client following one subscription of a live server.
// node live.mjs <ws url> <bearer token or -> <events wanted> <timeout ms> <query> [variables JSON]
// Prints one JSON line per event as it arrives ({"event": ...}), then one last line:
// {"done": true, "count": n, "error": ..., "closed": {code, reason}}. It stops after the
// events wanted, at the timeout, or when the server ends the subscription.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, wantedArg, timeoutArg, query, variablesArg] = process.argv.slice(2);
const wanted = Number(wantedArg);
const connectionParams = token && token !== '-' ? { Authorization: `Bearer ${token}` } : {};
const variables = variablesArg ? JSON.parse(variablesArg) : {};
const summary = { done: true, count: 0, error: null, closed: null };
const client = createClient({
  url,
  connectionParams,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  on: {
    connected: () => console.log(JSON.stringify({ connected: true })),
    closed: (event) => { summary.closed = summary.closed ?? { code: event.code, reason: event.reason }; },
  },
});
const timer = setTimeout(() => { summary.error = summary.error ?? 'timeout'; client.dispose(); }, Number(timeoutArg));
try {
  for await (const event of client.iterate({ query, variables })) {
    console.log(JSON.stringify({ event }));
    summary.count += 1;
    if (summary.count >= wanted) break;
  }
} catch (error) {
  summary.error = error?.reason ?? error?.message ?? (Array.isArray(error) ? JSON.stringify(error) : String(error));
}
clearTimeout(timer);
await client.dispose();
console.log(JSON.stringify(summary));
