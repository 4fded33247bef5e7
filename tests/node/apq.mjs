// Apollo Client's persisted-queries link against a live server: the hash alone first
// (answered PersistedQueryNotFound), then document and hash, then the hash alone by GET.
// node apq.mjs <url> : prints one JSON object with what went over the wire and the data.
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';

const url = process.argv[2];
const wire = [];
const recordingFetch = async (input, init) => {
  const response = await fetch(input, init);
  const body = await response.clone().text();
  wire.push({ method: init?.method ?? 'GET', url: String(input), status: response.status, body });
  return response;
};

const link = createPersistedQueryLink({
  sha256: (q) => createHash('sha256').update(q).digest('hex'),
  useGETForHashedQueries: true,
}).concat(new HttpLink({ uri: url, fetch: recordingFetch }));

const query = gql`
  query ApqSources {
    sources { source configured }
  }
`;
const results = [];
for (let i = 0; i < 2; i++) {
  // A new client each time: the server, not the client's cache, must answer.
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const { data } = await client.query({ query, fetchPolicy: 'no-cache' });
  results.push(data);
}
console.log(JSON.stringify({ wire, results }));
