/**
 * The Event Grid publisher against a stand-in topic: an HTTPS server on 127.0.0.1 with a self-signed certificate
 * (the SDK's bearer-token policy refuses plain http), and a TokenCredential of our own in place of the managed
 * identity. What is checked is the request @azure/eventgrid really sends: where, with which token and scope, in
 * which content type, with which events.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EventGridError, eventGridPublisherFrom } from '../../src/clients/eventgrid.js';
import { runFinishedEvent } from '../../src/core/cloudevents.js';
import { snapshotOf } from '../../src/core/run.js';

class RecordingCredential implements TokenCredential {
  readonly scopes: string[][] = [];
  getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(typeof scopes === 'string' ? [scopes] : scopes);
    return Promise.resolve({ token: 'token-of-the-app-identity', expiresOnTimestamp: Date.now() + 3600_000 });
  }
}

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let dir: string;
let cert: string;
let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let answer = { status: 200, body: '' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eventgrid-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  rmSync(dir, { recursive: true, force: true });
});

const ref = { runId: 'nightly-7f3k2', cluster: 'prod', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
const snapshot = { ...snapshotOf(ref, { status: 'Failed', reason: 'BackoffLimitExceeded', message: 'the Job failed' }, new Date('2026-12-07T03:00:00Z')), outputs: { rows: 3 } };
const event = runFinishedEvent(snapshot, { source: 'https://func-api-1.azurewebsites.net/api' });

describe('eventGridPublisherFrom', () => {
  it('publishes CloudEvents with a bearer token of the app\'s identity for Event Grid, and no key', async () => {
    seen.length = 0;
    answer = { status: 200, body: '' };
    const credential = new RecordingCredential();
    await eventGridPublisherFrom(endpoint, () => credential, { tlsOptions: { ca: cert } }).publish([event]);
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request?.method).toBe('POST');
    expect(request?.url).toMatch(/^\/api\/events\?api-version=\d{4}-\d{2}-\d{2}$/);
    expect(request?.headers.authorization).toBe('Bearer token-of-the-app-identity');
    expect(request?.headers['aeg-sas-key']).toBeUndefined();
    expect(request?.headers['aeg-sas-token']).toBeUndefined();
    expect(request?.headers['content-type']).toMatch(/^application\/cloudevents-batch\+json/);
    expect(String(request?.headers['user-agent'])).toMatch(/^aks-job-runner /);
    expect(credential.scopes).toEqual([['https://eventgrid.azure.net/.default']]);
    expect(JSON.parse(request?.body ?? '')).toEqual([
      {
        specversion: '1.0',
        id: 'nightly-7f3k2:Failed',
        source: 'https://func-api-1.azurewebsites.net/api/clusters/prod',
        type: 'io.aks-job-runner.run.finished',
        subject: 'nightly-7f3k2',
        time: '2026-12-07T03:00:00.000Z',
        datacontenttype: 'application/json',
        data: JSON.parse(JSON.stringify(snapshot)) as unknown,
      },
    ]);
  });

  it('makes its client once, on the first publish', async () => {
    seen.length = 0;
    let made = 0;
    const credential = new RecordingCredential();
    const publisher = eventGridPublisherFrom(endpoint, () => {
      made += 1;
      return credential;
    }, { tlsOptions: { ca: cert } });
    expect(made).toBe(0);
    await publisher.publish([event]);
    await publisher.publish([event]);
    expect(made).toBe(1);
    expect(seen).toHaveLength(2);
  });

  it.each([
    [403, false, /403; give the app's identity the role EventGrid Data Sender on the topic, or fix EVENT_GRID_TOPIC_ENDPOINT/],
    [404, false, /404; check EVENT_GRID_TOPIC_ENDPOINT/],
    [429, true, /429/],
    [503, true, /503/],
  ])('answers %i as an EventGridError (transient: %s), retried by the delivery, not the SDK', async (status, transient, message) => {
    seen.length = 0;
    answer = { status, body: JSON.stringify({ error: { code: 'Nope', message: 'no' } }) };
    const publisher = eventGridPublisherFrom(endpoint, () => new RecordingCredential(), { tlsOptions: { ca: cert } });
    const err = await publisher.publish([event]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EventGridError);
    expect((err as EventGridError).transient).toBe(transient);
    expect((err as EventGridError).message).toMatch(message);
    expect((err as EventGridError).message).toContain(`127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(seen).toHaveLength(1);
    answer = { status: 200, body: '' };
  });

  it('answers a topic it cannot reach as a transient EventGridError', async () => {
    const credential = new RecordingCredential();
    const err = await eventGridPublisherFrom('https://127.0.0.1:1/api/events', () => credential, { tlsOptions: { ca: cert } })
      .publish([event])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(EventGridError);
    expect((err as EventGridError).transient).toBe(true);
  });
});
