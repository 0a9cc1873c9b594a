import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The App Service managed identity endpoint on loopback: what a function app's identity answers in Azure, where
 * the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER and @azure/identity's ManagedIdentityCredential (inside
 * DefaultAzureCredential; msal-node's AppService source) asks `GET <IDENTITY_ENDPOINT>?resource=...&client_id=...`
 * with the `X-IDENTITY-HEADER` header. A request without that header is refused (401), as the platform's endpoint
 * does; every other gets `token` for the resource it asked for.
 */
export interface IdentityRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** The `resource` query parameter: the scope asked for without `/.default`. */
  resource: string;
  /** The `client_id` query parameter: the user-assigned identity named, or '' for the system-assigned one. */
  clientId: string;
}

export interface IdentityEndpoint {
  /** IDENTITY_ENDPOINT and IDENTITY_HEADER, for the environment of what should use this endpoint. */
  readonly env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  readonly requests: IdentityRequest[];
  close(): Promise<void>;
}

export async function startIdentityEndpoint(options: { header: string; token: string; clientId: string }): Promise<IdentityEndpoint> {
  const requests: IdentityRequest[] = [];
  const server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
    const resource = query.get('resource') ?? '';
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, resource, clientId: query.get('client_id') ?? '' });
    if (req.headers['x-identity-header'] !== options.header) {
      res.writeHead(401).end();
      return;
    }
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ access_token: options.token, expires_on: String(expiresOn), resource, token_type: 'Bearer', client_id: options.clientId }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${String(port)}/msi/token`, IDENTITY_HEADER: options.header },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
