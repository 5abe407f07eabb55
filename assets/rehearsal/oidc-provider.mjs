// An OpenID-certified provider (node-oidc-provider, from the npm registry) issuing
// client-credentials tokens, to rehearse supsync's token handling against a server supsync
// did not write (README: "Rehearse against an OpenID provider"). Development settings only:
// in-memory store and the library's throwaway signing keys.
// PORT (3000), TTL (token lifetime in s, 900) and AUTH_METHOD (client_secret_basic) set it up.
import Provider from 'oidc-provider';
const port = Number(process.env.PORT || 3000);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'supplier-sync',
    client_secret: 'change-me-a-long-enough-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: process.env.AUTH_METHOD || 'client_secret_basic',
    scope: 'supplier_mgmt',
  }],
  scopes: ['supplier_mgmt'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
  },
  ttl: { ClientCredentials: Number(process.env.TTL || 900) },
});
provider.listen(port, () => console.log(`listening on http://127.0.0.1:${port}`));
