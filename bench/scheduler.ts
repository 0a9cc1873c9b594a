/**
 * Benchmark: `npm run bench:scheduler`. One scheduler tick over 1,000 handed-over CronJobs in 10 namespaces on
 * the local control plane. Prints the API requests the tick made, by verb and resource, from the API server's
 * own `apiserver_request_total` read before and after, and the tick's CPU time (process.cpuUsage) and wall time.
 * Durable is an in-memory client here: the tick starts orchestrations, the Jobs are theirs to create, one each.
 *
 * Ticks measured, at chosen instants (every CronJob is `* * * * *`):
 * - due:    100 CronJobs due (10 per namespace, half of them Forbid), 900 already recorded for the minute
 * - idle:   the same minute again: nothing due, the steady state of most ticks
 * - all:    the next minute: all 1,000 due (half Forbid)
 */
import { Agent, request } from 'node:https';

import azureFunctions, { type Timer } from '@azure/functions';
import { BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

import { loadConfig } from '../src/config.js';
import { LAST_SCHEDULE_ANNOTATION, SCHEDULER_LABEL } from '../src/core/labels.js';
import { scheduler } from '../src/functions/scheduler.js';
import type { TickReport } from '../src/runs/scheduler.js';
import { createServices, setServices } from '../src/services.js';
import { FakeDurableClient } from '../test/fakes/durable-client.js';
import { startCluster } from '../testenv/cluster.js';

const { InvocationContext } = azureFunctions;
const NAMESPACES = 10;
const PER_NAMESPACE = 100;
const DUE_PER_NAMESPACE = 10;
const MINUTE = 60_000;

function metrics(server: string, token: string, ca: string): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const req = request(`${server}/metrics`, { headers: { Authorization: `Bearer ${token}` }, agent: new Agent({ ca }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const totals = new Map<string, number>();
        for (const line of body.split('\n')) {
          if (!line.startsWith('apiserver_request_total{')) continue;
          const labels: Record<string, string | undefined> = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
          const key = `${labels.verb ?? '?'} ${labels.resource ?? '?'}${labels.subresource ? `/${labels.subresource}` : ''}`;
          totals.set(key, (totals.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
        }
        resolve(totals);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function diff(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) out.set(key, delta);
  }
  return out;
}

async function main(): Promise<void> {
  console.log('starting the local control plane');
  const cluster = await startCluster();
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-${i}`);
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const iso = (ms: number) => new Date(ms).toISOString();

    console.log(`creating ${NAMESPACES * PER_NAMESPACE} handed-over CronJobs in ${NAMESPACES} namespaces`);
    for (const namespace of namespaces) {
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      const creates = Array.from({ length: PER_NAMESPACE }, (_, i) =>
        batch.createNamespacedCronJob({
          namespace,
          body: {
            metadata: {
              name: `cron-${String(i).padStart(3, '0')}`,
              labels: { [SCHEDULER_LABEL]: 'app' },
              // The first ten were last fired a minute ago: due now. The rest were fired this minute already.
              annotations: { [LAST_SCHEDULE_ANNOTATION]: iso(i < DUE_PER_NAMESPACE ? minute - MINUTE : minute) },
            },
            spec: {
              schedule: '* * * * *',
              suspend: true,
              concurrencyPolicy: i % 2 === 0 ? 'Forbid' : 'Allow',
              jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } } },
            },
          },
        }),
      );
      for (let i = 0; i < creates.length; i += 20) await Promise.all(creates.slice(i, i + 20));
    }

    const config = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces }]) });
    setServices(createServices(config));
    const client = new FakeDurableClient();
    const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
    const context = new InvocationContext({ functionName: 'scheduler', invocationId: 'bench', logHandler: () => undefined });

    const tick = async (name: string, at: number): Promise<void> => {
      const before = await metrics(cluster.server, cluster.adminToken, cluster.caPem);
      const cpu = process.cpuUsage();
      const wall = process.hrtime.bigint();
      const report = (await scheduler(timer, client, context, new Date(at))) as TickReport;
      const wallMs = Number(process.hrtime.bigint() - wall) / 1e6;
      const used = process.cpuUsage(cpu);
      const after = await metrics(cluster.server, cluster.adminToken, cluster.caPem);
      const requests = diff(before, after);
      const ours = [...requests].filter(([key]) => /\b(cronjobs|jobs|events)$/.test(key)).sort();
      const others = [...requests].filter(([key]) => !/\b(cronjobs|jobs|events)$/.test(key)).reduce((sum, [, n]) => sum + n, 0);
      const total = ours.reduce((sum, [, n]) => sum + n, 0);
      console.log(`\n# tick "${name}": ${report.cronJobs} CronJobs, ${report.started.length} started, ${report.forbidden.length} held, ${report.errors.length} errors`);
      console.log(`  API requests (apiserver_request_total): ${total} on cronjobs/jobs/events  [${ours.map(([k, n]) => `${k}: ${n}`).join(', ')}]`);
      console.log(`  (other requests in the same window, from the controllers and kwok: ${others})`);
      console.log(`  CPU ${((used.user + used.system) / 1000).toFixed(1)} ms (user ${(used.user / 1000).toFixed(1)}, system ${(used.system / 1000).toFixed(1)}), wall ${wallMs.toFixed(0)} ms`);
    };

    // Connections, credentials and the JIT warmed by a tick with nothing due (not printed).
    await scheduler(timer, client, context, new Date(minute - 30_000));
    await tick('due', minute + 5_000);
    await tick('idle', minute + 30_000);
    await tick('all', minute + MINUTE + 5_000);
  } finally {
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
