import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import type { Lockfile } from '../../scripts/notices.js';
import { bundle, bundledMain, projectRoot, trimSourceMaps } from '../../scripts/package.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { RUN_ID_LABEL } from '../../src/core/labels.js';
import { COMPLETE_DELAY_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { localAppSettings } from '../support/e2e-settings.js';

/**
 * A run end to end through the app as the deployment package bundles it (scripts/package.ts `bundle`, the same
 * esbuild settings and map trimming, from src/main.ts), served by the local runtime against the local control
 * plane. The bundle is loaded alone: its functions with a Durable client binding go through durable-functions'
 * wrapper inside the bundle, whose own client reaches the local Durable engine over the Durable HTTP API.
 */
const ns = useNamespace('bundle');
const kube = adminKube();
let app: LocalApp;
let work: string;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(method: string, url: string, body?: unknown): Promise<Answer> {
  const response = await fetch(url, { method, headers: { 'Content-Type': 'application/json', 'x-functions-key': app.functionKey }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function finalAnswer(statusUrl: string): Promise<Answer> {
  return waitFor('the run to end', async () => {
    const answer = await call('GET', statusUrl);
    return answer.status === 202 ? undefined : answer;
  });
}

beforeAll(async () => {
  Object.assign(process.env, localAppSettings(ns()));
  work = await mkdtemp(join(tmpdir(), 'aks-job-runner-bundle-'));
  const lock = JSON.parse(await readFile(join(projectRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  await bundle(join(projectRoot, 'src/main.ts'), join(work, 'dist'), lock);
  trimSourceMaps(join(work, 'dist'));
  await writeFile(join(work, 'package.json'), JSON.stringify({ type: 'module', main: bundledMain }));
  app = await startLocalApp({ functionKey: 'bundle-key', main: join(work, bundledMain), timersOnClock: false });
  const job = (name: string, annotations: Record<string, string>) =>
    kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name, namespace: ns(), suspend: true, annotations, env: [{ name: 'MODE', value: 'full' }], jobAnnotations: { [ALLOW_ENV_ANNOTATION]: 'LIMIT' } }) });
  await job('report', { [COMPLETE_DELAY_ANNOTATION]: '2s', [TERMINATION_MESSAGE_ANNOTATION]: '{"rows":42}' });
  await job('slow', { [COMPLETE_DELAY_ANNOTATION]: '1h' });
}, 300_000);

afterAll(async () => {
  await app.close();
  await rm(work, { recursive: true, force: true });
});

describe('the bundled app on the local runtime', () => {
  it('runs a Job to Success with its outputs, the start and status routes reaching Durable through the bundle\'s client', async () => {
    const first = await call('POST', `${app.url}/api/jobs/${ns()}/report/runs`, { LIMIT: 7 });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const final = await finalAnswer(first.body.statusUrl as string);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ status: 'Success', runtimeStatus: 'Completed', rows: 42, outputs: { rows: 42 } });
    const jobs = await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${RUN_ID_LABEL}=${String(first.body.runId)}` });
    expect(jobs.items.map((j) => j.spec?.template.spec?.containers[0]?.env)).toEqual([[{ name: 'MODE', value: 'full' }, { name: 'LIMIT', value: '7' }]]);
  });

  it('cancels a run through the bundle\'s raiseEvent: 202, then Cancelled (424)', async () => {
    const first = await call('POST', `${app.url}/api/jobs/${ns()}/slow/runs`, {});
    expect(first.status).toBe(202);
    await waitFor('Running', async () => (await call('GET', first.body.statusUrl as string)).body.status === 'Running');
    const cancel = await call('POST', first.body.cancelUrl as string, { reason: 'bundle e2e' });
    expect(cancel.status).toBe(202);
    const final = await finalAnswer(first.body.statusUrl as string);
    expect(final.status).toBe(424);
    expect(final.body.status).toBe('Cancelled');
  });

  it('answers 404 for a run the task hub does not know, read through the Durable HTTP API', async () => {
    const answer = await call('GET', `${app.url}/api/runs/report-00000000`);
    expect(answer.status).toBe(404);
  });
});
