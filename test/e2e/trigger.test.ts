import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { succeeds } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { appCalls } from '../support/app-calls.js';
import { localAppSettings } from '../support/e2e-settings.js';

/**
 * Issue 23 item 4, end to end: a connector's webhook trigger "When a run finishes" on the local runtime, the local
 * control plane and Azurite, with a real HTTP receiver on loopback standing in for Power Automate's notification
 * endpoint. The trigger registers on a source before any run (POST /subscriptions with its notification URL), is
 * told of every run of that source once, and after the DELETE on its Location (what the platform calls when the
 * flow is turned off or deleted) of none.
 */
const ns = useNamespace('trigger');
const kube = adminKube();
let app: LocalApp;
let stateDir: string;

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const received: Delivery[] = [];
let server: Server | undefined;
let port = 0;
const at = (path: string) => received.filter((d) => d.path === path);

const { call, start, finalOf } = appCalls(() => app, ns);

beforeAll(async () => {
  Object.assign(process.env, localAppSettings(ns(), {
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    WEBHOOK_SIGNING_SECRET: 'whsec_dHJpZ2dlci10ZXN0LXNpZ25pbmctc2VjcmV0LTMyYnl0ZXMh',
  }));
  stateDir = await mkdtemp(join(tmpdir(), 'aks-job-runner-trigger-'));
  app = await startLocalApp({ functionKey: 'trigger-key', stateDir });
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: new URL(req.url ?? '/', 'http://127.0.0.1').pathname, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(202).end();
    });
  });
  server = receiver;
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  port = typeof address === 'object' && address ? address.port : 0;
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'report', namespace: ns(), suspend: true, fate: succeeds({ runFor: '1s', terminationMessage: '{"rows":42}' }) }) });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'other', namespace: ns(), suspend: true, fate: succeeds({ runFor: '1s' }) }) });
});

afterAll(async () => {
  const s = server;
  if (s) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => { resolve(); }));
  }
  await app.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe('the "When a run finishes" trigger of a custom connector', () => {
  it('is told of each run of its source once, with the snapshot; after the DELETE on its Location, of none', async () => {
    const notificationUrl = `http://127.0.0.1:${String(port)}/flow/notify?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual&sig=flow-secret`;
    // What the platform does when the flow is saved: the body's x-ms-notification-url property is its endpoint.
    const made = await call('POST', 'subscriptions', { namespace: ns(), source: { kind: 'Job', name: 'report' }, url: notificationUrl, format: 'snapshot' });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const location = made.headers.get('Location') ?? '';
    expect(location).toMatch(/\/api\/subscriptions\/[0-9a-f]{20}\?code=/);
    expect(JSON.stringify(made.body)).not.toContain('flow-secret');

    // Two runs of the source, and one of another Job in the same namespace (not told).
    const first = await start('report');
    const second = await start('report');
    const other = await start('other');
    const finals = await Promise.all([first, second, other].map(finalOf));
    expect(finals.map((f) => f.status)).toEqual(['Success', 'Success', 'Success']);
    const deliveries = await waitFor('two notifications', () => Promise.resolve(at('/flow/notify').length >= 2 ? at('/flow/notify') : undefined), 60_000);
    const bodies = deliveries.map((d) => JSON.parse(d.body) as Record<string, unknown>);
    expect(bodies.map((b) => b.runId).sort()).toEqual([first, second].sort());
    for (const body of bodies) expect(body).toMatchObject({ status: 'Success', runtimeStatus: 'Completed', outputs: { rows: 42 }, rows: 42 });
    // Each run shows the delivery by host, never the URL's query.
    const shown = await call('GET', `runs/${first}`);
    expect(JSON.stringify(shown.body)).not.toContain('flow-secret');
    expect(shown.body.subscriptions).toEqual([expect.objectContaining({ host: `http://127.0.0.1:${String(port)}`, state: 'delivered', attempts: 1 })]);
    expect((await call('GET', `runs/${other}`)).body.subscriptions ?? []).toEqual([]);

    // The flow is turned off: the platform calls DELETE on the Location it was given.
    const removed = await fetch(location, { method: 'DELETE' });
    expect(removed.status).toBe(204);
    const third = await start('report');
    expect((await finalOf(third)).status).toBe('Success');
    // The verdict is made: give a delivery the time it would have had, then count.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(at('/flow/notify')).toHaveLength(2);
    expect(received.filter((d) => d.body.includes(third))).toEqual([]);
    expect((await fetch(location, { method: 'DELETE' })).status).toBe(404);
  });
});
