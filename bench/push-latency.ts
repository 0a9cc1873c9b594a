/**
 * Push latency (issue 23): `npm run bench:push`. The app on the local runtime, against the local control plane and
 * Azurite, runs RUNS short Jobs (CONCURRENCY at a time), each with a subscription to a receiver on loopback, and a
 * poller beside each that follows `Location` at the app's `Retry-After`, as Logic Apps and Polysync do. Printed:
 *
 * - push: from the verdict being made (the final snapshot's `observedAt`, the observation that made it) to the
 *   receiver getting the event, median and max
 * - poll: from the same instant to the poller's first non-202 answer, median and max
 *
 * Goal: push median under 1 s, max under 2 s. Run it alone, at low priority (`nice`): it shares the machine's
 * cores with whatever else runs, and its figures are only as good as that.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';

import { startAzurite } from '../local/azurite.js';
import { startLocalApp } from '../local/host/server.js';
import { startCluster } from '../testenv/cluster.js';
import { COMPLETE_DELAY_ANNOTATION, COMPLETE_JITTER_ANNOTATION } from '../testenv/fates.js';

const RUNS = Number(process.env.PUSH_RUNS ?? 20);
const CONCURRENCY = Number(process.env.PUSH_CONCURRENCY ?? 4);
/** The app's default: what a poller that does as it is told waits between polls. */
const RETRY_AFTER_SECONDS = Number(process.env.STATUS_RETRY_AFTER_SECONDS ?? 10);
const NS = 'bench-push';

const azurite = await startAzurite({});
const cluster = await startCluster({ nodes: 2 }).catch(async (err: unknown) => {
  await azurite.stop();
  throw err;
});
const stateDir = await mkdtemp(join(tmpdir(), 'bench-push-'));
const received = new Map<string, number>();
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { subject: string };
    if (!received.has(event.subject)) received.set(event.subject, at);
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const address = receiver.address();
const receiverUrl = `http://127.0.0.1:${String(typeof address === 'object' && address ? address.port : 0)}/events`;

try {
  Object.assign(process.env, {
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [NS] }]),
    LOGS_CONNECTION_STRING: azurite.connectionString,
    POLL_INITIAL_SECONDS: '1',
    POLL_MAX_SECONDS: '2',
    STATUS_RETRY_AFTER_SECONDS: String(RETRY_AFTER_SECONDS),
    WEBHOOK_SIGNING_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
  });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await kc.makeApiClient(BatchV1Api).createNamespacedJob({
    namespace: NS,
    body: {
      metadata: { name: 'quick', namespace: NS },
      spec: {
        suspend: true,
        template: {
          metadata: { annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s', [COMPLETE_JITTER_ANNOTATION]: '1s' } },
          spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] },
        },
      },
    },
  });
  const app = await startLocalApp({ functionKey: 'bench', stateDir, timersOnClock: false });
  const push: number[] = [];
  const poll: number[] = [];

  async function one(): Promise<void> {
    const start = await fetch(`${app.url}/api/jobs/${NS}/quick/runs?code=bench`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ subscription: { url: receiverUrl } }),
    });
    const { runId } = (await start.json()) as { runId: string };
    let location = start.headers.get('Location') ?? '';
    // A start that subscribed answers 201 without Retry-After: the poller looks at once, then as the 202s say.
    let retryAfter = Number(start.headers.get('Retry-After') ?? 0);
    let final: { observedAt: string } | undefined;
    let polledAt = 0;
    while (!final) {
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      const answer = await fetch(location);
      if (answer.status === 202) {
        location = answer.headers.get('Location') ?? location;
        retryAfter = Number(answer.headers.get('Retry-After'));
        await answer.body?.cancel();
        continue;
      }
      polledAt = Date.now();
      final = (await answer.json()) as { observedAt: string };
    }
    const verdictAt = new Date(final.observedAt).getTime();
    const deadline = Date.now() + 30_000;
    while (!received.has(runId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const pushedAt = received.get(runId);
    if (pushedAt === undefined) throw new Error(`run ${runId}: no event within 30 s of its verdict`);
    push.push(pushedAt - verdictAt);
    poll.push(polledAt - verdictAt);
  }

  for (let done = 0; done < RUNS; done += CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, RUNS - done) }, () => one()));
  }
  await app.close();

  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const median = sorted.length % 2 ? (sorted[(sorted.length - 1) / 2] ?? 0) : ((sorted[sorted.length / 2 - 1] ?? 0) + (sorted[sorted.length / 2] ?? 0)) / 2;
    return `median ${(median / 1000).toFixed(3)} s, max ${((sorted.at(-1) ?? 0) / 1000).toFixed(3)} s`;
  };
  console.log(`push latency over ${String(push.length)} runs (${String(CONCURRENCY)} at a time), from the verdict being made:`);
  console.log(`  pushed to a receiver              ${stats(push)}`);
  console.log(`  a poller at Retry-After: ${String(RETRY_AFTER_SECONDS).padStart(2)} s     ${stats(poll)}`);
} finally {
  receiver.close();
  await cluster.stop();
  await azurite.stop();
  await rm(stateDir, { recursive: true, force: true });
}
