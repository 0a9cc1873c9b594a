/**
 * `npm run demo`: starts the built-in local control plane (built from Go modules the first time), puts a
 * sample Job and CronJob in a namespace, starts the app's local runtime, and runs Jobs through the HTTP API
 * like a Logic Apps or Polysync caller would: one to Success with an env override, one told by a webhook instead of
 * polled (a receiver on loopback checks the Standard Webhooks signature), one that fails on a bad image, and one
 * cancelled mid-run. Then it makes a CronJob from a sample Deployment through the management API
 * and runs it now, reads the first run's log back from the logs archive (a real Azurite) after its Job and pods
 * are deleted, and hands a suspended CronJob over to the app, whose scheduler fires it on the real clock (within
 * a minute). Every status change is printed as it happens.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';

import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';

import { SCHEDULER_APP, SCHEDULER_LABEL } from '../src/core/labels.js';
import { type LocalCluster, startCluster } from '../testenv/cluster.js';
import { COMPLETE_DELAY_ANNOTATION } from '../testenv/fates.js';
import { type LocalAzurite, startAzurite } from './azurite.js';
import { startLocalApp } from './host/server.js';
import { createSamples, SAMPLE_NAMESPACE, template } from './samples.js';

const NAMESPACE = SAMPLE_NAMESPACE;
const t0 = Date.now();
const say = (line: string) => {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);
};

interface RunBody {
  runId?: string;
  status?: string;
  reason?: string;
  message?: string;
  statusUrl?: string;
  cancelUrl?: string;
  outputs?: Record<string, unknown>;
  pods?: { active: number; ready: number; succeeded: number; failed: number };
  [key: string]: unknown;
}

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; headers: Headers; body: RunBody }> {
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as RunBody) : {} };
}

/** Follow 202 + Location + Retry-After like Logic Apps does, printing each change of status. */
async function follow(location: string, onRunning?: (body: RunBody) => Promise<void>): Promise<{ status: number; body: RunBody }> {
  let last = '';
  let url = location;
  let triggered = false;
  for (;;) {
    const answer = await call('GET', url);
    const line = `${answer.body.status ?? '?'} (${answer.body.reason ?? ''}) ${answer.body.message ?? ''}`.trim();
    if (line !== last) {
      say(`  HTTP ${answer.status}  ${line}`);
      last = line;
    }
    if (answer.status !== 202) return answer;
    if (!triggered && onRunning && answer.body.status === 'Running') {
      triggered = true;
      await onRunning(answer.body);
    }
    url = answer.headers.get('Location') ?? url;
    const wait = Number(answer.headers.get('Retry-After') ?? '2');
    await new Promise((r) => setTimeout(r, Math.min(wait, 2) * 1000));
  }
}

interface Pushed {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A receiver on loopback (port 0) for step 2: it keeps the first request and answers 200. */
async function startReceiver(): Promise<{ url: string; first: Promise<Pushed>; close: () => Promise<void> }> {
  let deliver: (pushed: Pushed) => void = () => undefined;
  const first = new Promise<Pushed>((resolve) => {
    deliver = resolve;
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      res.writeHead(200).end();
      deliver({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${String(port)}/run-finished`,
    first,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    },
  };
}

/**
 * What a receiver of its own does (docs/push.md, "Signatures"; the Standard Webhooks scheme): HMAC-SHA256, keyed
 * with the bytes after `whsec_`, of `<webhook-id>.<webhook-timestamp>.<body>`, against each `v1,<base64>` entry.
 */
function signatureHolds(pushed: Pushed, secret: Buffer): boolean {
  const id = pushed.headers['webhook-id'];
  const timestamp = pushed.headers['webhook-timestamp'];
  const signatures = pushed.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || !/^\d+$/.test(timestamp) || typeof signatures !== 'string') return false;
  if (Math.abs(Number(timestamp) - pushed.at / 1000) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${id}.${timestamp}.${pushed.body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** Step 2: a run that is not polled; the app pushes its final snapshot to a receiver here when it ends. */
async function pushedRun(api: string, code: string, secret: Buffer): Promise<boolean> {
  say('2) run Job "hello" again, subscribed: the app pushes the verdict to a receiver here instead of being polled');
  const receiver = await startReceiver();
  try {
    say(`  receiver listening on ${receiver.url}`);
    const started = await call('POST', `${api}/jobs/${NAMESPACE}/hello/runs?${code}`, {
      GREETING: 'told, not polled',
      subscription: { url: receiver.url, format: 'snapshot' },
    });
    const runId = started.body.runId ?? '?';
    say(`  POST with {subscription: {url, format: "snapshot"}} → ${started.status}, runId ${runId}; not polling, waiting for the push`);
    const pushed = await Promise.race([
      receiver.first,
      new Promise<undefined>((resolve) => setTimeout(() => { resolve(undefined); }, 120_000).unref()),
    ]);
    if (!pushed) {
      say('  no push within 2 minutes');
      return false;
    }
    const body = JSON.parse(pushed.body) as RunBody;
    const completion = typeof body.completionTime === 'string' ? Date.parse(body.completionTime) : Number.NaN;
    const after = Number.isNaN(completion) ? 'the run carries no completionTime' : `${String(pushed.at - completion)} ms after the verdict (its completionTime ${String(body.completionTime)}, whole seconds as Kubernetes keeps it)`;
    say(`  pushed: ${body.status ?? '?'} (${body.reason ?? ''}) outputs ${JSON.stringify(body.outputs)}, delivered ${after}`);
    const signed = signatureHolds(pushed, secret);
    say(`  webhook-id ${String(pushed.headers['webhook-id'])}; Standard Webhooks signature ${signed ? 'verified' : 'NOT verified'} with the demo's WEBHOOK_SIGNING_SECRET`);
    // The app records the delivery just after the receiver answered: read the run until it shows that (a few seconds at most).
    type Shown = { host?: string; state?: string; attempts?: number }[];
    let subscriptions: Shown = [];
    for (let i = 0; i < 10; i++) {
      subscriptions = ((await call('GET', `${api}/runs/${runId}?${code}`)).body.subscriptions as Shown | undefined) ?? [];
      if (subscriptions.every((s) => s.state !== 'delivering' && s.state !== 'pending')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    say(`  GET /api/runs/${runId} afterwards shows the subscription: ${JSON.stringify(subscriptions.map((s) => ({ host: s.host, state: s.state, attempts: s.attempts })))}`);
    return body.runId === runId && body.status === 'Success' && signed;
  } finally {
    await receiver.close();
  }
}

/** Step: once run 1 is archived, delete its Job and pods, then read its log back through the API: from the archive. */
async function archivedLogs(api: string, code: string, runId: string, kubeconfigPath: string): Promise<boolean> {
  say(`6) the logs of run ${runId} after its Job and pods are gone`);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const batch = kc.makeApiClient(BatchV1Api);
  type Archive = { location?: string | null; error?: string } | undefined;
  let archive: Archive;
  for (let i = 0; i < 60; i++) {
    archive = (await call('GET', `${api}/runs/${runId}?${code}`)).body.archive as Archive;
    if (archive) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  say(`  archived: ${archive?.location ?? `no (${archive?.error ?? 'no answer'})`}`);
  await batch.deleteNamespacedJob({ name: runId, namespace: NAMESPACE, propagationPolicy: 'Background' });
  let answer: Response | undefined;
  for (let i = 0; i < 120; i++) {
    answer = await fetch(`${api}/runs/${runId}/logs?${code}`);
    if (answer.headers.get('X-Log-Source') === 'archive') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const text = (await answer?.text()) ?? '';
  say(`  Job deleted; GET /api/runs/${runId}/logs → ${String(answer?.status)} from the ${answer?.headers.get('X-Log-Source') ?? '?'}:`);
  for (const line of text.trimEnd().split('\n')) say(`    | ${line}`);
  return answer?.status === 200 && answer.headers.get('X-Log-Source') === 'archive';
}

async function main(): Promise<number> {
  say('starting the local Kubernetes control plane (the first run builds it from Go modules: several minutes)');
  let cluster: LocalCluster | undefined;
  let app: Awaited<ReturnType<typeof startLocalApp>> | undefined;
  let azurite: LocalAzurite | undefined;
  try {
    cluster = await startCluster({ log: (line) => { say(`  ${line}`); } });
    say(`creating namespace "${NAMESPACE}" with sample Jobs, a CronJob and a Deployment`);
    await createSamples(cluster.kubeconfigPath, NAMESPACE);

    azurite = await startAzurite();
    const signingSecret = randomBytes(32);
    say(`logs archive: Azurite on ${azurite.blobEndpoint}`);
    Object.assign(process.env, {
      LOGS_CONNECTION_STRING: azurite.connectionString,
      CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [NAMESPACE] }]),
      POLL_INITIAL_SECONDS: '1',
      POLL_MAX_SECONDS: '2',
      STATUS_RETRY_AFTER_SECONDS: '1',
      GRACE_IMAGE_PULL_SECONDS: '5',
      // Step 2 runs a Job that does not exist from an image: fallback runs are off unless images are allowed.
      FALLBACK_IMAGES: 'registry.invalid/',
      // Step 2's receiver checks the Standard Webhooks signature made with this secret (docs/push.md).
      WEBHOOK_SIGNING_SECRET: `whsec_${signingSecret.toString('base64')}`,
    });
    app = await startLocalApp({ functionKey: 'demo-key' });
    const api = `${app.url}/api`;
    const code = `code=${app.functionKey}`;
    say(`local runtime serving the app on ${api}`);

    const jobs = await call('GET', `${api}/jobs?namespace=${NAMESPACE}&${code}`);
    say(`GET /api/jobs → ${jobs.status}: ${JSON.stringify((jobs.body.items as { name: string; params: unknown }[]).map((i) => ({ name: i.name, params: i.params })))}`);

    say('1) run Job "hello" with an env override, following Location until it ends');
    const started = await call('POST', `${api}/jobs/${NAMESPACE}/hello/runs?${code}`, { GREETING: 'hello from the demo', COUNT: 3 });
    say(`  POST → ${started.status}, runId ${started.body.runId ?? '?'}`);
    const success = await follow(started.body.statusUrl ?? '');
    say(`  outputs: ${JSON.stringify(success.body.outputs)}`);

    const pushed = await pushedRun(api, code, signingSecret);

    say('3) run a Job that does not exist, from an image that cannot be pulled');
    const bad = await call('POST', `${api}/jobs/${NAMESPACE}/adhoc/runs?image=registry.invalid/no-such-image:1&${code}`, {});
    say(`  POST → ${bad.status}, runId ${bad.body.runId ?? '?'}`);
    const failed = await follow(bad.body.statusUrl ?? '');

    say('4) run Job "slow" and cancel it while it runs');
    const slow = await call('POST', `${api}/jobs/${NAMESPACE}/slow/runs?${code}`, {});
    say(`  POST → ${slow.status}, runId ${slow.body.runId ?? '?'}`);
    const cancelled = await follow(slow.body.statusUrl ?? '', async (body) => {
      const answer = await call('POST', body.cancelUrl ?? '', { reason: 'demo' });
      say(`  POST cancel → ${answer.status}`);
    });

    say('5) make a CronJob from Deployment "shop-web" (its pod template, without probes, ports and selector labels) and run it now');
    const made = await call('POST', `${api}/cronjobs/${NAMESPACE}?${code}`, {
      name: 'shop-report',
      fromDeployment: 'shop-web',
      preset: 'daily',
      at: '02:30',
      timeZone: 'Europe/Amsterdam',
      command: ['sh', '-c', 'echo "report in $MODE mode"'],
      env: { MODE: 'report' },
    });
    const preview = made.body.preview as { description?: string; nextRuns?: { local: string }[] } | undefined;
    say(`  POST /api/cronjobs → ${made.status}: ${preview?.description ?? JSON.stringify(made.body)}; next: ${(preview?.nextRuns ?? []).slice(0, 2).map((r) => r.local).join(', ')}`);
    const now = await call('POST', `${api}/cronjobs/${NAMESPACE}/shop-report/runs?${code}`, {});
    say(`  POST run now → ${now.status}, runId ${now.body.runId ?? '?'}`);
    const scheduled = await follow(now.body.statusUrl ?? '');
    const detail = await call('GET', `${api}/cronjobs/${NAMESPACE}/shop-report?${code}`);
    const latest = (detail.body.latestRuns as { runId: string; status: string; trigger: string }[] | undefined)?.[0];
    say(`  GET /api/cronjobs/${NAMESPACE}/shop-report → ${detail.status}: latest run ${latest?.runId ?? '?'} ${latest?.status ?? '?'} (${latest?.trigger ?? '?'})`);

    const archivedLog = await archivedLogs(api, code, started.body.runId ?? '', cluster.kubeconfigPath);

    say('7) hand a CronJob over to the app (label aks-job-runner.io/scheduler=app + suspend) and let the app fire it');
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    await kc.makeApiClient(BatchV1Api).createNamespacedCronJob({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'every-minute', labels: { [SCHEDULER_LABEL]: SCHEDULER_APP } },
        spec: { schedule: '* * * * *', suspend: true, jobTemplate: { spec: { backoffLimit: 0, template: template('tick', { [COMPLETE_DELAY_ANNOTATION]: '2s' }) } } },
      },
    });
    const listing = await call('GET', `${api}/cronjobs?namespace=${NAMESPACE}&${code}`);
    const handed = (listing.body.items as { name: string; scheduler: string; nextRunTime: string | null }[]).find((i) => i.name === 'every-minute');
    say(`  GET /api/cronjobs → every-minute: scheduler ${handed?.scheduler ?? '?'}, next run ${handed?.nextRunTime ?? '?'}`);
    const scheduledRunId = `every-minute-${Math.floor(Date.parse(handed?.nextRunTime ?? '') / 60_000)}`;
    say(`  waiting for the app's timer to start run ${scheduledRunId} (at most a minute)`);
    const statusUrl = `${api}/runs/${scheduledRunId}?${code}`;
    for (let first = await call('GET', statusUrl); first.status === 404; first = await call('GET', statusUrl)) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    const fired = await follow(statusUrl);
    say(`  trigger: ${JSON.stringify(fired.body.trigger)}`);

    const ok =
      success.status === 200 &&
      pushed &&
      failed.status === 424 &&
      failed.body.status === 'Failed' &&
      cancelled.body.status === 'Cancelled' &&
      made.status === 201 &&
      scheduled.status === 200 &&
      archivedLog &&
      fired.status === 200;
    say(
      ok
        ? 'demo finished: Success, a verdict pushed to a webhook with a verified signature, Failed (bad image), Cancelled, a CronJob made from a Deployment ran, logs read from the archive, and a scheduled run fired by the app, as expected'
        : 'demo finished with unexpected results',
    );
    return ok ? 0 : 1;
  } finally {
    await app?.close();
    await cluster?.stop();
    await azurite?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
