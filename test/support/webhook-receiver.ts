import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

import { expect } from 'vitest';

/** A real HTTP receiver on loopback for the push tests (issue 23), and an independent Standard Webhooks check. */
export interface Delivery {
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What a receiver does with the n-th request (0-based) to a path; default 200. */
export type Behaviour = (n: number, res: ServerResponse) => void;

/** An HTTP receiver on loopback that records every request, whatever it answers. */
export class Receiver {
  readonly received: Delivery[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly counts = new Map<string, number>();
  private server: Server | undefined;
  private readonly hanging: ServerResponse[] = [];
  port = 0;

  async listen(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        this.received.push({ path: url.pathname, query: url.search, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const n = this.counts.get(url.pathname) ?? 0;
        this.counts.set(url.pathname, n + 1);
        const behaviour = this.behaviours.get(url.pathname);
        if (behaviour) behaviour(n, res);
        else res.writeHead(200).end('{"ok":true,"secret":"never read by the app"}');
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  url(path: string, query = ''): string {
    return `http://127.0.0.1:${String(this.port)}${path}${query}`;
  }

  on(path: string, behaviour: Behaviour): void {
    this.behaviours.set(path, behaviour);
  }

  /** Hold the response open (a hanging receiver); released at close. */
  hang(res: ServerResponse): void {
    this.hanging.push(res);
  }

  at(path: string): Delivery[] {
    return this.received.filter((d) => d.path === path);
  }

  async close(): Promise<void> {
    for (const res of this.hanging.splice(0)) res.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    this.server = undefined;
  }
}

/**
 * The Standard Webhooks scheme, written here from its specification and not from the app's code: the signed
 * content is `<webhook-id>.<webhook-timestamp>.<body>`, HMAC-SHA256 with the secret's base64 bytes after `whsec_`,
 * sent as space-separated `v1,<base64>` entries.
 */
export function verifyStandardWebhook(delivery: Delivery, secret: Buffer): { id: string } {
  const id = String(delivery.headers['webhook-id']);
  const timestamp = String(delivery.headers['webhook-timestamp']);
  const signatures = String(delivery.headers['webhook-signature']).split(' ');
  expect(Math.abs(Number(timestamp) - delivery.at / 1000)).toBeLessThan(60);
  const expected = createHmac('sha256', secret).update(`${id}.${timestamp}.${delivery.body}`).digest();
  const ok = signatures.some((entry) => {
    const [version, value] = entry.split(',');
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  expect(ok, 'a v1 signature made with the secret over id.timestamp.body').toBe(true);
  return { id };
}
