// Real OAuth 2.0 authorization server for the ait_connectors end-to-end tests.
//
// Built on `oidc-provider` (see package.json for the pinned version). Install once with
//
//     npm ci --prefix tests/oauth_server
//
// and start it with
//
//     node tests/oauth_server/server.mjs ['<config JSON>']
//
// CONFIGURATION — a JSON object, taken from the first argument, else from the environment
// variable OIDC_TEST_SERVER_CONFIG, else `{}`. Every key is optional:
//
//   host                  "127.0.0.1"  interface to listen on
//   port                  0            0 = pick a free port (env OIDC_TEST_SERVER_PORT also works)
//   accessTokenTTL        3            access token lifetime, seconds
//   refreshTokenTTL       86400        refresh token lifetime, seconds
//   authorizationCodeTTL  60           authorization code lifetime, seconds
//   rotateRefreshToken    true         issue a new refresh token on every refresh
//   scopes                ["read", "write"]  extra scopes accepted besides openid/offline_access
//   accountId             "user-1"     subject logged in when the request has no login_hint
//   tokenDelayMs          0            delay every token endpoint request (widens race windows)
//   exitOnStdinEnd        false        exit when stdin reaches EOF (the Python harness sets it)
//   keepOfflineAccess     true         add prompt=consent to /auth requests asking offline_access
//                                      without a prompt, so that scope is kept (see SCOPES)
//   registration          false        enable dynamic client registration (RFC 7591) at POST /reg,
//                                      open (no initial access token)
//   resourceIndicators    false        enable resource indicators (RFC 8707): any absolute URL is
//                                      a resource server granted the `scopes`; its access tokens
//                                      are opaque, audience = the resource, TTL accessTokenTTL
//   clients               see DEFAULT_CLIENTS below; each entry is client metadata:
//                         { client_id, client_secret?, token_endpoint_auth_method,
//                           redirect_uris, grant_types?, scope? }
//
// Once listening it prints exactly one JSON line on stdout, e.g.
//   {"ready": true, "port": 12345, "issuer": "http://127.0.0.1:12345", ...}
// and nothing else on stdout (diagnostics go to stderr). It exits on SIGTERM/SIGINT, and with
// exitOnStdinEnd when its stdin is closed (so it cannot outlive the test process that spawned it).
//
// SCOPES — the simplest setup that yields a usable access token for any requested scope: the
// extra scopes are declared in the provider's `scopes` list (no resource indicators), so they
// are granted exactly like `openid`/`offline_access` and end up in the (opaque) access token's
// `scope`. `openid` is optional. Stock oidc-provider silently drops `offline_access` from the
// granted scope unless the request carries `prompt=consent`; with keepOfflineAccess (default)
// the server adds `prompt=consent` to such requests so `offline_access` is granted like any
// other scope. Either way every client allowed the refresh_token grant gets a refresh token
// (`issueRefreshToken` is overridden).
//
// ROUTES added on top of oidc-provider's own (/auth, /token, /token/revocation, /jwks, /me, ...):
//   GET  /interaction/:uid  non-interactive login + consent; answers 303 to the resume URL.
//                           accountId = login_hint of the authorization request, else accountId.
//   GET  /api/me            test resource server: `Authorization: Bearer <access token>` →
//                           200 {"sub", "client_id", "scope"}; 401 + WWW-Authenticate
//                           `Bearer error="invalid_token"` when missing/unknown/expired/revoked.
//   GET  /__test/stats      request counters (see `newStats`).
//   POST /__test/reset      zero the counters.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import Provider from 'oidc-provider';

const DEFAULT_REDIRECT_URI = 'http://127.0.0.1:9/callback';

const DEFAULT_CLIENTS = [
  {
    client_id: 'confidential-client',
    client_secret: 'confidential-client-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [DEFAULT_REDIRECT_URI],
  },
  {
    client_id: 'public-client',
    token_endpoint_auth_method: 'none',
    redirect_uris: [DEFAULT_REDIRECT_URI],
  },
];

function loadConfig() {
  const raw = process.argv[2] ?? process.env.OIDC_TEST_SERVER_CONFIG ?? '{}';
  const config = JSON.parse(raw);
  return {
    host: config.host ?? '127.0.0.1',
    port: Number(config.port ?? process.env.OIDC_TEST_SERVER_PORT ?? 0),
    accessTokenTTL: config.accessTokenTTL ?? 3,
    refreshTokenTTL: config.refreshTokenTTL ?? 24 * 60 * 60,
    authorizationCodeTTL: config.authorizationCodeTTL ?? 60,
    rotateRefreshToken: config.rotateRefreshToken ?? true,
    scopes: config.scopes ?? ['read', 'write'],
    accountId: config.accountId ?? 'user-1',
    tokenDelayMs: config.tokenDelayMs ?? 0,
    exitOnStdinEnd: config.exitOnStdinEnd ?? false,
    keepOfflineAccess: config.keepOfflineAccess ?? true,
    registration: config.registration ?? false,
    resourceIndicators: config.resourceIndicators ?? false,
    clients: (config.clients ?? DEFAULT_CLIENTS).map((client) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...client,
    })),
  };
}

function newStats() {
  return {
    // every request reaching POST /token, by grant_type ("unknown" if the body did not parse)
    token: { authorization_code: 0, refresh_token: 0 },
    // the subset of those answered with a non-2xx status
    token_errors: { authorization_code: 0, refresh_token: 0 },
    // every request reaching POST /token/revocation
    revocation: 0,
    // every request to GET /api/me, and the subset answered 401
    resource: 0,
    resource_rejected: 0,
    // requests carrying an RFC 8707 `resource` parameter: at /auth, and at /token by grant_type
    resource_param: { auth: 0, authorization_code: 0, refresh_token: 0 },
    // every request reaching POST /reg (dynamic client registration)
    registration: 0,
  };
}

function buildProvider(issuer, config) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig' };

  return new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: [signingKey] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', ...config.scopes],
    clockTolerance: 0,
    rotateRefreshToken: config.rotateRefreshToken,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Tokens must not die with the browser session: the tests only keep the tokens.
    expiresWithSession: async () => false,
    // The default (pkce.required) already demands PKCE from public clients; only S256 exists.
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      registration: { enabled: config.registration },
      resourceIndicators: {
        enabled: config.resourceIndicators,
        // A refresh or code exchange without `resource` gets the one the grant holds.
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => ({
          scope: config.scopes.join(' '),
          audience: resourceIndicator,
          accessTokenTTL: config.accessTokenTTL,
          accessTokenFormat: 'opaque',
        }),
      },
    },
    ttl: {
      AccessToken: config.accessTokenTTL,
      AuthorizationCode: config.authorizationCodeTTL,
      RefreshToken: config.refreshTokenTTL,
      IdToken: 60 * 60,
      Interaction: 60 * 60,
      Session: 24 * 60 * 60,
      Grant: 24 * 60 * 60,
    },
  });
}

async function finishInteraction(provider, config, ctx) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session, grantId } = details;
  let result;

  if (prompt.name === 'login') {
    result = { login: { accountId: params.login_hint || config.accountId } };
  } else if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unsupported prompt ${prompt.name}` };
  }

  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.status = 303;
  ctx.set('Location', returnTo);
  ctx.body = '';
}

async function resourceEndpoint(provider, stats, ctx) {
  stats.resource += 1;
  const reject = (description) => {
    stats.resource_rejected += 1;
    ctx.status = 401;
    ctx.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${description}"`);
    ctx.body = { error: 'invalid_token', error_description: description };
  };

  const match = /^Bearer ([^\s]+)$/i.exec(ctx.get('authorization'));
  if (!match) {
    stats.resource_rejected += 1;
    ctx.status = 401;
    ctx.set('WWW-Authenticate', 'Bearer');
    ctx.body = { error: 'invalid_request', error_description: 'no bearer token' };
    return;
  }
  // find() answers undefined for unknown, revoked and expired (clockTolerance 0) tokens.
  const token = await provider.AccessToken.find(match[1]);
  if (!token) return reject('access token not found, expired or revoked');
  const grant = await provider.Grant.find(token.grantId);
  if (!grant) return reject('grant revoked');

  ctx.set('Cache-Control', 'no-store');
  ctx.body = { sub: token.accountId, client_id: token.clientId, scope: token.scope ?? '' };
  return undefined;
}

function testRoutes(provider, config) {
  let stats = newStats();

  return async function testRoutesMiddleware(ctx, next) {
    const { method, path } = ctx;

    if (method === 'GET' && /^\/interaction\/[^/]+$/.test(path)) {
      await finishInteraction(provider, config, ctx);
    } else if (method === 'GET' && path === '/api/me') {
      await resourceEndpoint(provider, stats, ctx);
    } else if (method === 'GET' && path === '/__test/stats') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = stats;
    } else if (method === 'POST' && path === '/__test/reset') {
      stats = newStats();
      ctx.status = 204;
    } else if (method === 'GET' && path === '/auth') {
      const { scope, prompt, resource } = ctx.query;
      if (resource) stats.resource_param.auth += 1;
      if (
        config.keepOfflineAccess &&
        typeof scope === 'string' &&
        scope.split(' ').includes('offline_access') &&
        !prompt
      ) {
        ctx.query = { ...ctx.query, prompt: 'consent' };
      }
      await next();
    } else if (path === '/token') {
      if (config.tokenDelayMs > 0) await sleep(config.tokenDelayMs);
      try {
        await next();
      } finally {
        // oidc-provider parsed the body into ctx.oidc.body (unless it failed to parse).
        const grantType = ctx.oidc?.body?.grant_type ?? ctx.oidc?.params?.grant_type ?? 'unknown';
        stats.token[grantType] = (stats.token[grantType] ?? 0) + 1;
        if (ctx.oidc?.body?.resource && grantType in stats.resource_param) {
          stats.resource_param[grantType] += 1;
        }
        if (ctx.status < 200 || ctx.status >= 300) {
          stats.token_errors[grantType] = (stats.token_errors[grantType] ?? 0) + 1;
        }
      }
    } else if (method === 'POST' && path === '/reg') {
      stats.registration += 1;
      await next();
    } else if (path === '/token/revocation') {
      stats.revocation += 1;
      await next();
    } else {
      await next();
    }
  };
}

async function main() {
  const config = loadConfig();
  const server = http.createServer();

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const { port } = server.address();
  const issuer = `http://${config.host}:${port}`;

  const provider = buildProvider(issuer, config);
  provider.use(testRoutes(provider, config));
  provider.on('server_error', (_ctx, error) => console.error('server_error', error));
  server.on('request', provider.callback());

  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (config.exitOnStdinEnd) {
    process.stdin.on('end', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({
    ready: true,
    port,
    issuer,
    clients: config.clients.map(({ client_id, client_secret, token_endpoint_auth_method, redirect_uris }) => ({
      client_id, client_secret, token_endpoint_auth_method, redirect_uris,
    })),
  })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
