// Benchmark peer: GraphQL Mesh v1. At start-up it composes mesh.config.ts (the
// FitnessForce sandbox's /openapi.json through @omnigraph/openapi) into a supergraph
// with `mesh-compose`, then serves it with Hive Gateway's runtime on 127.0.0.1:$PORT
// at /graphql, in this one process (no worker forks).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { createGatewayRuntime } from "@graphql-hive/gateway";
import useDeduplicateRequest from "@graphql-mesh/plugin-deduplicate-request";

const here = dirname(fileURLToPath(import.meta.url));
const ff = (process.env.SANDBOX_FITNESSFORCE_URL || "").replace(/\/+$/, "");
if (!ff) throw new Error("SANDBOX_FITNESSFORCE_URL is not set");
const port = Number(process.env.PORT || 4000);
const started = Date.now();

// FitnessForce: POST /authentication/token {username, password} -> bearer token
// (valid an hour in the sandbox; a benchmark run is far shorter). The composed
// supergraph carries "Bearer {env.FITNESSFORCE_ACCESS_TOKEN}", which the gateway
// interpolates on every upstream call.
const response = await fetch(`${ff}/authentication/token`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    username: process.env.SANDBOX_FITNESSFORCE_USERNAME || "sandbox",
    password: process.env.SANDBOX_FITNESSFORCE_PASSWORD || "sandbox-secret",
  }),
});
if (!response.ok) throw new Error(`FitnessForce token: ${response.status} ${await response.text()}`);
process.env.FITNESSFORCE_ACCESS_TOKEN = (await response.json()).access_token;

// Compose against the running sandbox (the OpenAPI document is read from it).
const build = join(here, ".build");
mkdirSync(build, { recursive: true });
const supergraph = join(build, "supergraph.graphql");
execFileSync(join(here, "node_modules", ".bin", "mesh-compose"), ["-o", supergraph], {
  cwd: here,
  env: process.env,
  stdio: ["ignore", "ignore", "inherit"],
  timeout: 120_000,
});

const gateway = createGatewayRuntime({
  supergraph,
  graphqlEndpoint: "/graphql",
  landingPage: false,
  logging: process.env.MESH_PEER_LOG_LEVEL || "warn",
  // What Mesh offers against N+1 for this source. FitnessForce has no get-many
  // endpoint, so @resolveTo cannot batch (keysArg needs one); this plugin at least
  // collapses identical GETs within one GraphQL request (100 invoices, 10 clients:
  // 10 client reads, not 100). MESH_PEER_DEDUPE=0 turns it off.
  plugins: () => (process.env.MESH_PEER_DEDUPE === "0" ? [] : [useDeduplicateRequest()]),
});
const server = createServer(gateway);
server.listen(port, "127.0.0.1", () => {
  console.log(`mesh peer ready at http://127.0.0.1:${port}/graphql in ${Date.now() - started} ms`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    gateway.dispose().finally(() => process.exit(0));
  });
}
