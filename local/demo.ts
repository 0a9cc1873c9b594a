/**
 * `npm run demo`: starts the built-in local control plane (built from Go modules the first time), puts a
 * sample Job and CronJob in a namespace, starts the app's local runtime, and runs Jobs through the HTTP API
 * like a Logic Apps or Polysync caller would: one to Success with an env override, one that fails on a bad
 * image, and one cancelled mid-run; then it hands a suspended CronJob over to the app, whose scheduler fires it
 * on the real clock (within a minute). Every status change is printed as it happens.
 */
import { BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

import { SCHEDULER_APP, SCHEDULER_LABEL } from '../src/core/labels.js';
import { type LocalCluster, startCluster } from '../testenv/cluster.js';
import { COMPLETE_DELAY_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from '../testenv/fates.js';
import { startLocalApp } from './host/server.js';

const NAMESPACE = 'demo';
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

async function main(): Promise<number> {
  say('starting the local Kubernetes control plane (the first run builds it from Go modules: several minutes)');
  let cluster: LocalCluster | undefined;
  let app: Awaited<ReturnType<typeof startLocalApp>> | undefined;
  try {
    cluster = await startCluster({ log: (line) => { say(`  ${line}`); } });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const batch = kc.makeApiClient(BatchV1Api);

    say(`creating namespace "${NAMESPACE}" with a sample Job and CronJob`);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    for (;;) {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: NAMESPACE });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const template = (name: string, annotations: Record<string, string>) => ({
      metadata: { annotations },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name, image: 'busybox:1.36', command: ['sh', '-c', 'echo "$GREETING"'], env: [{ name: 'GREETING', value: 'hello' }] }],
      },
    });
    // Template Jobs are kept suspended so they never run by themselves; runs are clones of them.
    await batch.createNamespacedJob({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'hello' },
        spec: { suspend: true, backoffLimit: 0, template: template('hello', { [COMPLETE_DELAY_ANNOTATION]: '4s', [TERMINATION_MESSAGE_ANNOTATION]: '{"rowsWritten":42,"report":"hello.csv"}' }) },
      },
    });
    await batch.createNamespacedJob({
      namespace: NAMESPACE,
      body: { metadata: { name: 'slow' }, spec: { suspend: true, backoffLimit: 0, template: template('slow', { [COMPLETE_DELAY_ANNOTATION]: '1h' }) } },
    });
    await batch.createNamespacedCronJob({
      namespace: NAMESPACE,
      body: { metadata: { name: 'nightly-report' }, spec: { schedule: '0 3 * * *', timeZone: 'Europe/Amsterdam', suspend: true, jobTemplate: { spec: { backoffLimit: 0, template: template('report', {}) } } } },
    });

    Object.assign(process.env, {
      CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [NAMESPACE] }]),
      POLL_INITIAL_SECONDS: '1',
      POLL_MAX_SECONDS: '2',
      STATUS_RETRY_AFTER_SECONDS: '1',
      GRACE_IMAGE_PULL_SECONDS: '5',
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

    say('2) run a Job that does not exist, from an image that cannot be pulled');
    const bad = await call('POST', `${api}/jobs/${NAMESPACE}/adhoc/runs?image=registry.invalid/no-such-image:1&${code}`, {});
    say(`  POST → ${bad.status}, runId ${bad.body.runId ?? '?'}`);
    const failed = await follow(bad.body.statusUrl ?? '');

    say('3) run Job "slow" and cancel it while it runs');
    const slow = await call('POST', `${api}/jobs/${NAMESPACE}/slow/runs?${code}`, {});
    say(`  POST → ${slow.status}, runId ${slow.body.runId ?? '?'}`);
    const cancelled = await follow(slow.body.statusUrl ?? '', async (body) => {
      const answer = await call('POST', body.cancelUrl ?? '', { reason: 'demo' });
      say(`  POST cancel → ${answer.status}`);
    });

    say('4) hand a CronJob over to the app (label aks-job-runner.io/scheduler=app + suspend) and let the app fire it');
    await batch.createNamespacedCronJob({
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
    const scheduled = await follow(statusUrl);
    say(`  trigger: ${JSON.stringify(scheduled.body.trigger)}`);

    const ok =
      success.status === 200 &&
      failed.status === 424 &&
      failed.body.status === 'Failed' &&
      cancelled.body.status === 'Cancelled' &&
      scheduled.status === 200;
    say(ok ? 'demo finished: Success, Failed (bad image), Cancelled, and a scheduled run fired by the app, as expected' : 'demo finished with unexpected results');
    return ok ? 0 : 1;
  } finally {
    await app?.close();
    await cluster?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
