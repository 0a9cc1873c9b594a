/**
 * The sample sources of `npm run demo` and of `npm run dev` on the built-in cluster: a namespace with two
 * Jobs, a CronJob and a Deployment to run or make CronJobs from through the app. The pods are kwok's: their fate (how long they run, what they
 * write as termination message) comes from the template annotations of testenv/fates.ts.
 */
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, type V1PodTemplateSpec } from '@kubernetes/client-node';

import { ALLOW_COMMAND_ANNOTATION, ALLOW_ENV_ANNOTATION } from '../src/core/consent.js';
import { COMPLETE_DELAY_ANNOTATION, COMPLETE_JITTER_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from '../testenv/fates.js';

export const SAMPLE_NAMESPACE = 'demo';
/** How long a run of the sample Job `slow` runs: long enough to be cancelled at leisure. */
export const SLOW_RUNS_FOR = '1h';

/** A busybox pod template whose kwok fate the annotations choose (testenv/fates.ts). */
export function template(name: string, annotations: Record<string, string>): V1PodTemplateSpec {
  return {
    metadata: { annotations },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name, image: 'busybox:1.36', command: ['sh', '-c', 'echo "$GREETING"'], env: [{ name: 'GREETING', value: 'hello' }] }],
    },
  };
}

/**
 * Create the namespace and its samples: Job `hello` (runs 4 s, outputs rowsWritten and report), Job `slow`
 * (runs an hour, to cancel), CronJob `nightly-report` and Deployment `shop-web` (a web app's, the source of a
 * CronJob made through the management API). The Jobs are kept suspended, as templates: they
 * never run themselves, their clones do. Waits for the namespace's default ServiceAccount, without which
 * no pod can be created.
 */
export async function createSamples(kubeconfigPath: string, namespace = SAMPLE_NAMESPACE): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await batch.createNamespacedJob({
    namespace,
    body: {
      // COUNT is not declared: the Job consents to callers adding it (docs/security.md, "What a caller may make the cluster do").
      metadata: { name: 'hello', annotations: { [ALLOW_ENV_ANNOTATION]: 'COUNT' } },
      spec: {
        suspend: true,
        backoffLimit: 0,
        template: template('hello', { [COMPLETE_DELAY_ANNOTATION]: '4s', [TERMINATION_MESSAGE_ANNOTATION]: '{"rowsWritten":42,"report":"hello.csv"}' }),
      },
    },
  });
  await batch.createNamespacedJob({
    namespace,
    // kwok waits the jitter-delay when it is at or below the delay, and the pod-complete stage's defaults to 5 s:
    // without it equal to the delay, "1h" would end the pod after 5 s (testenv/fates.ts).
    body: { metadata: { name: 'slow' }, spec: { suspend: true, backoffLimit: 0, template: template('slow', { [COMPLETE_DELAY_ANNOTATION]: SLOW_RUNS_FOR, [COMPLETE_JITTER_ANNOTATION]: SLOW_RUNS_FOR }) } },
  });
  await batch.createNamespacedCronJob({
    namespace,
    body: {
      metadata: { name: 'nightly-report' },
      spec: { schedule: '0 3 * * *', timeZone: 'Europe/Amsterdam', suspend: true, jobTemplate: { spec: { backoffLimit: 0, template: template('report', {}) } } },
    },
  });
  // No Deployment controller runs on the local cluster, so it makes no pods of its own. Its owner lets the
  // CronJobs made from it run their own command (the demo's report), not only the web server's.
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'shop-web', annotations: { [ALLOW_COMMAND_ANNOTATION]: 'true' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'shop-web' } },
        template: {
          metadata: { labels: { app: 'shop-web' }, annotations: { [COMPLETE_DELAY_ANNOTATION]: '3s' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'busybox:1.36',
                command: ['httpd', '-f', '-p', '8080'],
                env: [{ name: 'MODE', value: 'serve' }],
                ports: [{ containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/', port: 8080 } },
              },
            ],
          },
        },
      },
    },
  });
}
