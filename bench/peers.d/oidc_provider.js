// panva's oidc-provider for bench/peers: one confidential client (client_secret_post), ES256 JWT access
// tokens for one resource indicator, ES256 ID tokens, refresh-token rotation on, the default in-memory
// adapter. Before listening, and again on each SIGUSR2, it seeds BENCH_CHAINS refresh tokens (each with its
// own grant, as an authorization-code sign-in leaves them) and writes them as JSON to BENCH_HEADS.
// Usage: node oidc_provider.js <port>
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const resource = 'https://api.bench.example';
const client = { client_id: 'bench', client_secret: randomBytes(32).toString('base64url') };
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const scope = 'openid profile offline_access api:read';

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    ...client,
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirect_uris: ['http://localhost/cb'],
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256', use: 'sig' }] },
  scopes: ['openid', 'offline_access', 'api:read'],
  claims: { openid: ['sub'], profile: ['name'] },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub, name: 'Bench User' }) }),
  rotateRefreshToken: true,
  ttl: { Grant: 14 * 86400, RefreshToken: 14 * 86400, AccessToken: 3600, ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api:read',
        audience: resource,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

const found = await provider.Client.find(client.client_id);
async function seed() {
  const heads = [];
  for (let c = 0; c < Number(process.env.BENCH_CHAINS); c += 1) {
    const grant = new provider.Grant({ accountId: 'bench-user', clientId: client.client_id });
    grant.addOIDCScope('openid profile offline_access');
    grant.addResourceScope(resource, 'api:read');
    const grantId = await grant.save();
    heads.push(await new provider.RefreshToken({
      client: found, accountId: 'bench-user', grantId, scope, resource,
      authTime: Math.floor(Date.now() / 1000), gty: 'authorization_code',
    }).save());
  }
  const file = process.env.BENCH_HEADS;
  writeFileSync(`${file}.tmp`, JSON.stringify({
    clients: { cc: { id: client.client_id, secret: client.client_secret } }, resource, heads,
  }));
  renameSync(`${file}.tmp`, file);
}
// The in-memory adapter is an LRU of about 2,000 entries, so chains seeded long before their round
// would be evicted by the grants before it: the bench asks for each round's chains just before it.
process.on('SIGUSR2', () => { seed().catch((err) => { console.error(err); process.exit(1); }); });
await seed();
provider.listen(port, '127.0.0.1');
