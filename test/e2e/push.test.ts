import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { fails, succeeds } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { appCalls } from '../support/app-calls.js';
import { localAppSettings } from '../support/e2e-settings.js';
import { Receiver, verifyStandardWebhook } from '../support/webhook-receiver.js';

/**
 * Push on completion (issue 23), end to end: the app on the local runtime against the local control plane and
 * Azurite, with real HTTP receivers on loopback. What is counted is what a receiver saw: every event arrives
 * (lost 0) and carries one id per run and verdict.
 */
const ns = useNamespace('push');
const kube = adminKube();
const SECRET_BYTES = randomBytes(32);
const SIGNING_SECRET = `whsec_${SECRET_BYTES.toString('base64')}`;
let app: LocalApp;
let stateDir: string;

const { call, start, finalOf } = appCalls(() => app, ns);

const receiver = new Receiver();

beforeAll(async () => {
  Object.assign(process.env, localAppSettings(ns(), {
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    WEBHOOK_SIGNING_SECRET: SIGNING_SECRET,
    CALLBACK_ALLOWED_URLS: 'https://hooks.contoso.example/aks/',
  }));
  stateDir = await mkdtemp(join(tmpdir(), 'aks-job-runner-push-'));
  app = await startLocalApp({ functionKey: 'push-key', stateDir });
  await receiver.listen();
  const job = (name: string, fate: ReturnType<typeof succeeds>) => kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name, namespace: ns(), suspend: true, fate }) });
  await job('ok', succeeds({ runFor: '2s', terminationMessage: '{"rows":42}' }));
  await job('quick', succeeds({ runFor: '1s' }));
  await job('broken', fails({ exitCode: 3, runFor: '1s' }));
  await job('slow', succeeds({ runFor: '1h' }));
});

afterAll(async () => {
  await receiver.close();
  await app.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe('a Logic-Apps-style HTTP Webhook client', () => {
  /**
   * What the Logic Apps engine does with an HTTP Webhook action (Microsoft Learn, "connectors-native-webhook"):
   * Subscribe is a request with `@{listCallbackUrl()}` in its body; the workflow waits until the callback URL is
   * called and resumes with that request's body; Unsubscribe is called after a successful callback, when the
   * workflow run is cancelled and before it times out.
   */
  async function webhookAction(job: string, path: string, afterSubscribe?: (runId: string) => Promise<void>): Promise<{ runId: string; body: Record<string, unknown> }> {
    const callback = receiver.url(path, '?api-version=2016-06-01&sp=%2Fruns%2Fx&sv=1.0&sig=s3cr3t-signature');
    const runId = await start(job, { subscription: { url: callback, format: 'snapshot' } });
    await afterSubscribe?.(runId);
    const delivery = await waitFor(`the callback of ${runId}`, () => Promise.resolve(receiver.at(path)[0]), 90_000);
    const unsubscribe = await call('POST', 'subscriptions/unsubscribe', { url: callback });
    expect(unsubscribe.status).toBe(204);
    return { runId, body: JSON.parse(delivery.body) as Record<string, unknown> };
  }

  /**
   * The Subscribe call's answer. Microsoft Learn says what the engine does around it, not which status it needs:
   * - https://learn.microsoft.com/azure/connectors/connectors-native-webhook (ms.date 04/09/2026): "When this action
   *   runs, your workflow calls the subscribe endpoint on the target service and registers the callback URL. Your
   *   workflow pauses and waits for the target service to send an `HTTP POST` request to the callback URL." and "A
   *   webhook action stays subscribed to a service endpoint unless one of the following conditions occurs: The
   *   webhook action successfully finishes. You cancel the workflow run while waiting for a response. The workflow
   *   times out." Timeout: "Consumption | Stateful | Up to 90 days", "Standard | Stateful | Up to 30 days",
   *   "Standard | Stateless | 5 minutes".
   * - https://learn.microsoft.com/azure/logic-apps/logic-apps-workflow-actions-triggers#webhooks-and-subscriptions:
   *   the subscribe call "uses the same parameters as standard HTTP actions".
   * No page names the status the subscribe endpoint must answer; Microsoft's own sample subscribe endpoint
   * (logicappsio/LogicAppTriggersExample, WebhookTriggerController.cs) answers 200 with no body. Ours is the start
   * route's 2xx, but 201, not 202: whether the engine applies the HTTP action's asynchronous pattern (follow Location
   * while 202) to a Subscribe answer is documented nowhere, and if it did it would poll the run to its verdict (and
   * fail the action on a failed run's 424) instead of waiting for the callback. A 201 is a plain success either
   * way. Location still names the run's status; no Retry-After.
   */
  it('answers the Subscribe call (a start with the callback URL) with 201 at once: Location the run\'s status URL, no Retry-After, the run id, no callback URL', async () => {
    const callback = receiver.url('/la/subscribe-answer', '?api-version=2016-06-01&sp=%2Fruns%2Fx&sv=1.0&sig=s3cr3t-subscribe');
    const answer = await call('POST', `jobs/${ns()}/quick/runs`, { subscription: { url: callback, format: 'snapshot' } });
    expect(answer.status).toBe(201);
    const runId = answer.body.runId as string;
    expect(answer.headers.get('Location')).toContain(`/api/runs/${runId}`);
    expect(answer.headers.get('Retry-After')).toBeNull();
    expect(answer.body).toMatchObject({ runId, subscriptionUrl: expect.stringContaining(`/api/runs/${runId}/subscriptions/`) as string });
    expect(JSON.stringify(answer.body)).not.toContain('s3cr3t');
    expect([...answer.headers.values()].join(' ')).not.toContain('s3cr3t');
    await waitFor('the callback', () => Promise.resolve(receiver.at('/la/subscribe-answer')[0]), 60_000);
    expect((await call('POST', 'subscriptions/unsubscribe', { url: callback })).status).toBe(204);
  });

  it('resumes with the final snapshot of a successful run: the JSON GET /runs/{runId} answers, outputs at the top level', async () => {
    const { runId, body } = await webhookAction('ok', '/la/success');
    const polled = await finalOf(runId);
    expect(body).toMatchObject({ runId, status: 'Success', runtimeStatus: 'Completed', outputs: { rows: 42 }, rows: 42 });
    expect(body.status).toBe(polled.status);
    expect(body.completionTime).toBe(polled.completionTime);
    // The subscription is shown on the run by host, never its path or its sig.
    expect(JSON.stringify(polled)).not.toContain('s3cr3t');
    expect(polled.subscriptions).toEqual([expect.objectContaining({ host: `http://127.0.0.1:${String(receiver.port)}`, state: 'unsubscribed' })]);
  });

  it('resumes with the snapshot of a failed run, so a later step can branch on status', async () => {
    const { body } = await webhookAction('broken', '/la/failed');
    expect(body).toMatchObject({ status: 'Failed', runtimeStatus: 'Failed' });
  });

  it('resumes with the snapshot of a cancelled run', async () => {
    const { body } = await webhookAction('slow', '/la/cancelled', async (runId) => {
      await waitFor('the run to be running', async () => ((await call('GET', `runs/${runId}`)).body.status === 'Running' ? true : undefined));
      expect((await call('POST', `runs/${runId}/cancel`)).status).toBe(202);
    });
    expect(body).toMatchObject({ status: 'Cancelled', reason: 'CancelRequested' });
  });

  it('an Unsubscribe before the verdict never cancels the run, and nothing is sent after it', async () => {
    const callback = receiver.url('/la/unsubscribed', '?sig=abc');
    const runId = await start('quick', { subscription: { url: callback, format: 'snapshot' } });
    expect((await call('POST', 'subscriptions/unsubscribe', { url: callback })).status).toBe(204);
    const final = await finalOf(runId);
    expect(final.status).toBe('Success');
    // The verdict is made: give a delivery time it would have had, then count.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(receiver.at('/la/unsubscribed')).toHaveLength(0);
  });
});

describe('subscriptions on any run', () => {
  it('POST /runs/{runId}/subscriptions: 201 with Location, GET and DELETE on it; a signed CloudEvent at the verdict', async () => {
    const runId = await start('quick');
    const made = await call('POST', `runs/${runId}/subscriptions`, { url: receiver.url('/ce/one', '?token=hidden') });
    expect(made.status).toBe(201);
    const location = made.headers.get('Location') ?? '';
    expect(location).toContain(`/api/runs/${runId}/subscriptions/`);
    expect(JSON.stringify(made.body)).not.toContain('hidden');
    const again = await call('POST', `runs/${runId}/subscriptions`, { url: receiver.url('/ce/one', '?token=hidden') });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(made.body.id);

    const delivery = await waitFor('the event', () => Promise.resolve(receiver.at('/ce/one')[0]), 60_000);
    const { id } = verifyStandardWebhook(delivery, SECRET_BYTES);
    const event = JSON.parse(delivery.body) as Record<string, unknown>;
    expect(delivery.headers['content-type']).toContain('application/cloudevents+json');
    expect(event).toMatchObject({ specversion: '1.0', type: 'io.aks-job-runner.run.finished', subject: runId, id: `${runId}:Success` });
    expect(id).toBe(event.id);
    expect((event.data as Record<string, unknown>).status).toBe('Success');

    const path = new URL(location).pathname.replace(/^\/api\//, '');
    const shown = await waitFor('the delivery to be recorded', async () => {
      const answer = await call('GET', path);
      return answer.body.state === 'delivered' ? answer : undefined;
    });
    expect(shown.body).toMatchObject({ attempts: 1, lastError: null, host: `http://127.0.0.1:${String(receiver.port)}` });
    expect((await call('DELETE', path)).status).toBe(204);
    // Gone for its own route, as REST has it; the run's status still lists it, unsubscribed.
    expect((await call('GET', path)).status).toBe(404);
    const listed = (await call('GET', `runs/${runId}`)).body.subscriptions as { id: string; state: string }[] | undefined;
    expect(listed?.find((s) => s.id === made.body.id)?.state).toBe('unsubscribed');
  });

  it('a subscription made after the verdict is delivered at once', async () => {
    const runId = await start('quick');
    await finalOf(runId);
    const made = await call('POST', `runs/${runId}/subscriptions`, { url: receiver.url('/late/one') });
    expect(made.status).toBe(201);
    const delivery = await waitFor('the late event', () => Promise.resolve(receiver.at('/late/one')[0]), 30_000);
    expect(JSON.parse(delivery.body)).toMatchObject({ id: `${runId}:Success` });
  });

  it('refuses what it must not send to, naming the setting, and sends nothing', async () => {
    const runId = await start('quick');
    for (const [url, words] of [
      ['http://hooks.contoso.example/aks/x', 'not https'],
      ['https://elsewhere.example/aks/x', 'CALLBACK_ALLOWED_URLS'],
      ['https://user:pw@hooks.contoso.example/aks/x', 'CALLBACK_ALLOWED_URLS'],
    ] as const) {
      const answer = await call('POST', `runs/${runId}/subscriptions`, { url });
      expect(answer.status, url).toBe(400);
      expect(String(answer.body.detail)).toContain(words);
      expect(String(answer.body.detail)).toContain('CALLBACK_ALLOWED_URLS');
    }
    const before = receiver.received.length;
    for (let i = 0; i < 5; i++) expect((await call('POST', `runs/${runId}/subscriptions`, { url: receiver.url(`/many/${String(i)}`) })).status).toBe(201);
    const sixth = await call('POST', `runs/${runId}/subscriptions`, { url: receiver.url('/many/6') });
    expect(sixth.status).toBe(409);
    expect(String(sixth.body.detail)).toContain('the most a run may have (5)');
    await finalOf(runId);
    await waitFor('the five deliveries', () => Promise.resolve(receiver.received.length - before >= 5 ? true : undefined), 30_000);
    expect(receiver.at('/many/6')).toHaveLength(0);
  });

  it('a start refused for its subscription starts nothing', async () => {
    const quickJobs = async () => (await kube.batch.listNamespacedJob({ namespace: ns() })).items.filter((j) => j.metadata?.name?.startsWith('quick-')).length;
    const before = await quickJobs();
    const answer = await call('POST', `jobs/${ns()}/quick/runs`, { subscription: { url: 'https://evil.example/x' } });
    expect(answer.status).toBe(400);
    expect(String(answer.body.detail)).toContain('CALLBACK_ALLOWED_URLS');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await quickJobs()).toBe(before);
  });
});

describe('delivery through faults', () => {
  /** The event ids a receiver saw at a path, each request's signature verified. */
  function counted(path: string): { ids: Set<string> } {
    return { ids: new Set(receiver.at(path).map((d) => verifyStandardWebhook(d, SECRET_BYTES).id)) };
  }

  it('the receiver answering 500, then 200: retried until delivered, one id', async () => {
    receiver.on('/fault/500', (n, res) => res.writeHead(n < 2 ? 500 : 200).end());
    const runId = await start('quick', { subscription: { url: receiver.url('/fault/500') } });
    await waitFor('three attempts', () => Promise.resolve(receiver.at('/fault/500').length >= 3 ? true : undefined), 60_000);
    const { ids } = counted('/fault/500');
    expect([...ids]).toEqual([`${runId}:Success`]);
  });

  it('429 with Retry-After: the next attempt waits as asked', async () => {
    receiver.on('/fault/429', (n, res) => (n === 0 ? res.writeHead(429, { 'Retry-After': '3' }).end() : res.writeHead(200).end()));
    const runId = await start('quick', { subscription: { url: receiver.url('/fault/429') } });
    const [first, second] = await waitFor('two attempts', () => Promise.resolve(receiver.at('/fault/429').length >= 2 ? receiver.at('/fault/429') : undefined), 60_000);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(2_900);
    expect([...counted('/fault/429').ids]).toEqual([`${runId}:Success`]);
  });

  it('a hanging receiver: the attempt times out and is retried', async () => {
    receiver.on('/fault/hang', (n, res) => {
      if (n === 0) receiver.hang(res);
      else res.writeHead(200).end();
    });
    const runId = await start('quick', { subscription: { url: receiver.url('/fault/hang') } });
    await waitFor('the retry after the time-out', () => Promise.resolve(receiver.at('/fault/hang').length >= 2 ? true : undefined), 60_000);
    expect([...counted('/fault/hang').ids]).toEqual([`${runId}:Success`]);
  });

  it('a redirect is not followed', async () => {
    receiver.on('/fault/redirect', (_n, res) => res.writeHead(302, { Location: receiver.url('/fault/redirected') }).end());
    const runId = await start('quick', { subscription: { url: receiver.url('/fault/redirect') } });
    await finalOf(runId);
    const sub = await waitFor('the delivery to give up', async () => {
      const subs = (await call('GET', `runs/${runId}`)).body.subscriptions as { state: string; lastError: string }[] | undefined;
      return subs?.[0]?.state === 'deadLettered' ? subs[0] : undefined;
    }, 30_000);
    expect(sub.lastError).toContain('302');
    expect(receiver.at('/fault/redirected')).toHaveLength(0);
  });

  it('the receiver down for a while, then up: delivered once it is up', async () => {
    const down = new Receiver();
    await down.listen();
    const port = down.port;
    await down.close();
    const runId = await start('quick', { subscription: { url: `http://127.0.0.1:${String(port)}/down/up` } });
    await finalOf(runId);
    await waitFor('a failed attempt to be recorded', async () => {
      const subs = (await call('GET', `runs/${runId}`)).body.subscriptions as { attempts: number }[] | undefined;
      return (subs?.[0]?.attempts ?? 0) >= 2 ? true : undefined;
    }, 30_000);
    await down.listen(port);
    try {
      const delivery = await waitFor('the delivery once the receiver is up', () => Promise.resolve(down.at('/down/up')[0]), 60_000);
      expect(verifyStandardWebhook(delivery, SECRET_BYTES).id).toBe(`${runId}:Success`);
    } finally {
      await down.close();
    }
  });
});

describe('the app SIGKILLed between the verdict and the delivery', () => {
  const REPO = join(import.meta.dirname, '../..');

  /** The local app (npm run dev's entry) in a child process, on a task hub kept on disk; its output in `dir`'s log. */
  async function startApp(dir: string, port: number): Promise<ChildProcess> {
    const log = openSync(join(dir, 'app.log'), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/dev.ts'], {
      cwd: REPO,
      stdio: ['ignore', log, log],
      env: { ...process.env, LOCAL_PORT: String(port), LOCAL_FUNCTION_KEY: 'killed', LOCAL_STATE_DIR: join(dir, 'hub') },
    });
    // Two minutes: the child compiles the app with tsx, on a machine other tests keep busy.
    await waitFor(
      'the local app to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`the app exited with ${String(child.exitCode)}: ${readFileSync(join(dir, 'app.log'), 'utf8').slice(-2000)}`);
        try {
          return (await fetch(`http://127.0.0.1:${String(port)}/api/runs/none?code=killed`)).status === 404;
        } catch {
          return undefined;
        }
      },
      120_000,
    );
    return child;
  }

  it('delivers after the restart, with the same event id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'push-killed-'));
    const probe = new Receiver();
    await probe.listen();
    const port = probe.port;
    await probe.close();
    let child = await startApp(dir, port);
    try {
      // The first request hangs: the delivery is under way when the app dies.
      receiver.on('/killed', (n, res) => {
      if (n === 0) receiver.hang(res);
      else res.writeHead(200).end();
    });
      const answer = await fetch(`http://127.0.0.1:${String(port)}/api/jobs/${ns()}/quick/runs?code=killed`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ subscription: { url: receiver.url('/killed') } }),
      });
      expect(answer.status).toBe(201);
      const { runId } = (await answer.json()) as { runId: string };
      await waitFor('the delivery to be under way', () => Promise.resolve(receiver.at('/killed').length >= 1 ? true : undefined), 60_000);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      child = await startApp(dir, port);
      await waitFor('the delivery after the restart', () => Promise.resolve(receiver.at('/killed').length >= 2 ? true : undefined), 60_000);
      const ids = new Set(receiver.at('/killed').map((d) => verifyStandardWebhook(d, SECRET_BYTES).id));
      expect([...ids]).toEqual([`${runId}:Success`]);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }, 400_000);
});
