// The graphql-ws client against a live server over graphql-transport-ws.
// node ws.mjs <ws url> [bearer token] [header|params] : subscribes to sourceHealth, takes
// two reports, then stops; prints one JSON object: the reports, pongs seen, and how the
// socket closed. The token goes in the Authorization header (default), or in the
// connection_init payload, as a browser client sends it.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, carrier = 'header'] = process.argv.slice(2);
const bearer = token ? { Authorization: `Bearer ${token}` } : {};
const headers = carrier === 'header' ? bearer : {};
const connectionParams = carrier === 'params' ? bearer : {};
class AuthorizedSocket extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { headers });
  }
}

const report = { reports: [], pongs: 0, closed: null, error: null };
const client = createClient({
  url,
  connectionParams,
  webSocketImpl: AuthorizedSocket,
  retryAttempts: 0,
  keepAlive: 200,
  on: {
    pong: () => { report.pongs += 1; },
    closed: (event) => { report.closed = report.closed ?? { code: event.code, reason: event.reason }; },
  },
});
try {
  const events = client.iterate({ query: 'subscription { sourceHealth(everySeconds: 1) { source healthy breakerState } }' });
  for await (const event of events) {
    report.reports.push(event);
    if (report.reports.length === 2) break; // stops the subscription (complete)
  }
} catch (error) {
  report.error = error?.reason ?? error?.message ?? String(error);
  if (error?.code) report.closed = { code: error.code, reason: error.reason };
}
await client.dispose();
await new Promise((resolve) => setTimeout(resolve, 100));
console.log(JSON.stringify(report));
