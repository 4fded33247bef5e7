// GraphQL Mesh v1 composition: the FitnessForce sandbox's OpenAPI document as a
// source, plus the links its REST surface implies (invoice -> client, client ->
// subscriptions) declared with @resolveTo. Composed by `mesh-compose` (server.js runs
// it at start-up against the running sandbox) into supergraph.graphql.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const ff = (process.env.SANDBOX_FITNESSFORCE_URL || '').replace(/\/+$/, '');
if (!ff) throw new Error('SANDBOX_FITNESSFORCE_URL is not set');

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('FitnessForce', {
        source: `${ff}/openapi.json`,
        endpoint: ff,
        // One GraphQL type per success response, not a union with the error bodies.
        ignoreErrorResponses: true,
        // Interpolated by the gateway at request time; server.js obtains the token
        // from POST /authentication/token before serving.
        operationHeaders: { Authorization: 'Bearer {env.FITNESSFORCE_ACCESS_TOKEN}' },
      }),
    },
  ],
  // FitnessForce has no get-many endpoint for clients or subscriptions (no list
  // taking several ids), so @resolveTo cannot batch with keysArg/keyField here: each
  // parent resolves with one REST call.
  additionalTypeDefs: /* GraphQL */ `
    extend type Invoice {
      client: Client
        @resolveTo(
          sourceName: "FitnessForce"
          sourceTypeName: "Query"
          sourceFieldName: "getClient"
          requiredSelectionSet: "{ tenant_id client_id }"
          sourceArgs: { tenant_id: "{root.tenant_id}", client_id: "{root.client_id}" }
        )
    }
    extend type Client {
      subscriptions: SubscriptionPage
        @resolveTo(
          sourceName: "FitnessForce"
          sourceTypeName: "Query"
          sourceFieldName: "listClientSubscriptions"
          requiredSelectionSet: "{ tenant_id client_id }"
          sourceArgs: { tenant_id: "{root.tenant_id}", client_id: "{root.client_id}", page_size: 200 }
        )
    }
  `,
});
