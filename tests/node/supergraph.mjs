// clubgraph composed with a second subgraph into a supergraph, served by Apollo Gateway.
// node supergraph.mjs <clubgraph graphql url> : composes clubgraph (its `_service { sdl }`)
// with a CRM subgraph that extends Client, starts the gateway, runs queries that cross
// both subgraphs, and prints one JSON object with the answers.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { ApolloGateway } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

const clubgraphUrl = process.argv[2];

async function post(url, query, variables = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

// A CRM subgraph: a loyalty tier for every client, and its own list of top clients.
const crmTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
  type Client @key(fields: "id") {
    id: ID!
    loyaltyTier: String!
  }
  type Query {
    topClients: [Client!]!
  }
`);
const tier = (id) => ['bronze', 'silver', 'gold'][[...id].reduce((a, c) => a + c.charCodeAt(0), 0) % 3];
const top = await post(clubgraphUrl, '{ clients(first: 3) { nodes { id } } }');
const topIds = top.data.clients.nodes.map((n) => n.id);
const crm = new ApolloServer({
  schema: buildSubgraphSchema({
    typeDefs: crmTypeDefs,
    resolvers: {
      Query: { topClients: () => topIds.map((id) => ({ id })) },
      Client: { __resolveReference: ({ id }) => ({ id, loyaltyTier: tier(id) }), loyaltyTier: (c) => tier(c.id) },
    },
  }),
});
const { url: crmUrl } = await startStandaloneServer(crm, { listen: { port: 0, host: '127.0.0.1' } });

const sdl = (await post(clubgraphUrl, '{ _service { sdl } }')).data._service.sdl;
const composed = composeServices([
  { name: 'clubgraph', typeDefs: parse(sdl), url: clubgraphUrl },
  { name: 'crm', typeDefs: crmTypeDefs, url: crmUrl },
]);
if (composed.errors) {
  console.log(JSON.stringify({ compositionErrors: composed.errors.map((e) => e.message) }));
  await crm.stop();
  process.exit(0);
}
const gateway = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl: composed.supergraphSdl }) });
const { url: gatewayUrl } = await startStandaloneServer(gateway, { listen: { port: 0, host: '127.0.0.1' } });

const fromCrm = await post(gatewayUrl, '{ topClients { id loyaltyTier name email } }');
const fromClubgraph = await post(
  gatewayUrl,
  '{ invoices(first: 4, source: [FITNESSFORCE]) { nodes { number client { id name loyaltyTier } } } }',
);
console.log(JSON.stringify({ topIds, fromCrm, fromClubgraph, tiers: Object.fromEntries(topIds.map((id) => [id, tier(id)])) }));
await gateway.stop();
await crm.stop();
