// The graphql-http audit suite (GraphQL over HTTP) against a live server.
// node audit.mjs <url> : prints one JSON object per audit, one per line.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const results = await auditServer({ url });
for (const r of results) {
  const out = { id: r.id, name: r.name, status: r.status };
  if (r.status !== 'ok') out.reason = r.reason;
  console.log(JSON.stringify(out));
}
