import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { createSamples } from '../../local/samples.js';
import { JOB_NAME_POD_LABEL, RUN_ID_LABEL } from '../../src/core/labels.js';
import { adminKube, waitFor } from '../integration/helpers.js';

/**
 * The samples `npm run dev` and the demo create, run through the app on the local control plane as a newcomer
 * runs them: `slow` is there to be cancelled, so it must still be running when they get to it.
 */
const kube = adminKube();
const namespace = `samples-${randomBytes(3).toString('hex')}`;
let app: LocalApp;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(method: string, url: string, body?: unknown): Promise<Answer> {
  const response = await fetch(url, { method, headers: { 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const start = async (name: string) => {
  const answer = await call('POST', `${app.url}/api/jobs/${namespace}/${name}/runs?code=${app.functionKey}`, {});
  expect(answer.status).toBe(202);
  return { runId: answer.body.runId as string, statusUrl: answer.body.statusUrl as string, cancelUrl: answer.body.cancelUrl as string };
};

beforeAll(async () => {
  await createSamples(inject('kubeconfigPath'), namespace);
  process.env.CLUSTERS = JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [namespace] }]);
  Object.assign(process.env, { POLL_INITIAL_SECONDS: '1', POLL_MAX_SECONDS: '2', STATUS_RETRY_AFTER_SECONDS: '1' });
  app = await startLocalApp({ functionKey: 'samples-key', timersOnClock: false });
});

afterAll(async () => {
  await app.close();
  await kube.core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('the local runtime’s sample Jobs', () => {
  it('`slow` is still Running well after a sample pod’s usual run (kwok’s 5 s jitter), and can then be cancelled', async () => {
    const slow = await start('slow');
    const hello = await start('hello');
    await waitFor('slow to run', async () => (await call('GET', slow.statusUrl)).body.status === 'Running', 60_000);
    const runningSince = Date.now();
    // `hello` runs 4 s: once it is done, and 20 s more have passed since `slow` started running (its pod
    // ended Success 12-14 s after the start when only its delay was set), a short run would be over.
    const helloFinal = await waitFor('hello to end', async () => {
      const answer = await call('GET', hello.statusUrl);
      return answer.status === 202 ? undefined : answer;
    }, 60_000);
    expect(helloFinal.body.status).toBe('Success');
    await new Promise((r) => setTimeout(r, Math.max(0, runningSince + 20_000 - Date.now())));

    const still = await call('GET', slow.statusUrl);
    expect(still.status).toBe(202);
    expect(still.body.status).toBe('Running');
    const pods = await kube.core.listNamespacedPod({ namespace, labelSelector: `${JOB_NAME_POD_LABEL}=${slow.runId}` });
    expect(pods.items.map((p) => p.status?.phase)).toEqual(['Running']);

    const cancel = await call('POST', slow.cancelUrl, { reason: 'tried by the samples test' });
    expect(cancel.status).toBe(202);
    const final = await waitFor('slow to end', async () => {
      const answer = await call('GET', slow.statusUrl);
      return answer.status === 202 ? undefined : answer;
    }, 60_000);
    expect(final.status).toBe(424);
    expect(final.body.status).toBe('Cancelled');
    await waitFor('its Job to be gone', async () => (await kube.batch.listNamespacedJob({ namespace, labelSelector: `${RUN_ID_LABEL}=${slow.runId}` })).items.length === 0);
  });
});
