import { beforeAll, describe, expect, it } from 'vitest';

import { captureRegistrations, type Registration } from '../../local/host/registrations.js';
import { loadConfig } from '../../src/config.js';
import { createServices, setServices } from '../../src/services.js';

let registrations: Registration[];

beforeAll(async () => {
  registrations = captureRegistrations();
  setServices(createServices(loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]) })));
  await import('../../src/index.js');
});

function trigger(name: string): Record<string, unknown> {
  const registration = registrations.find((r) => r.metadata.name === name);
  if (!registration) throw new Error(`${name} is not registered; registered: ${registrations.map((r) => r.metadata.name).join(', ')}`);
  const binding = Object.values(registration.metadata.bindings).find((b) => String(b.type).endsWith('Trigger'));
  if (!binding) throw new Error(`${name} has no trigger`);
  return binding;
}

describe('function registrations', () => {
  it.each([
    ['startJobRun', 'jobs/{namespace}/{name}/runs', ['POST']],
    ['startCronJobRun', 'cronjobs/{namespace}/{name}/runs', ['POST']],
    ['getRun', 'runs/{runId}', ['GET']],
    ['cancelRun', 'runs/{runId}/cancel', ['POST']],
    ['rerunRun', 'runs/{runId}/rerun', ['POST']],
    ['listJobs', 'jobs', ['GET']],
    ['listCronJobs', 'cronjobs', ['GET']],
    ['listDeployments', 'deployments', ['GET']],
    ['createCronJob', 'cronjobs/{namespace}', ['POST']],
    ['getCronJob', 'cronjobs/{namespace}/{name}', ['GET']],
    ['updateCronJob', 'cronjobs/{namespace}/{name}', ['PATCH']],
    ['deleteCronJob', 'cronjobs/{namespace}/{name}', ['DELETE']],
    ['previewSchedule', 'schedules/preview', ['GET']],
    ['getRunLogs', 'runs/{runId}/logs', ['GET']],
    ['listCronJobRuns', 'cronjobs/{namespace}/{name}/runs', ['GET']],
    ['listRuns', 'runs', ['GET']],
    ['listClusters', 'clusters', ['GET']],
    ['listAuditRecords', 'audit', ['GET']],
  ])('%s is an HTTP trigger on %s, %j, with function-key auth', (name, route, methods) => {
    expect(trigger(name)).toMatchObject({ type: 'httpTrigger', route, methods, authLevel: 'function' });
  });

  it('serves the console anonymously on a catch-all route: the page holds no data, its API calls carry the key', () => {
    expect(trigger('serveConsole')).toMatchObject({ type: 'httpTrigger', route: 'console/{*path}', methods: ['GET'], authLevel: 'anonymous' });
  });

  it.each([
    ['getOpenApiDocument', 'openapi.json'],
    ['getSwaggerDocument', 'swagger.json'],
  ])('serves the API document %s anonymously on %s: it holds no data, only what the routes take and answer', (name, route) => {
    expect(trigger(name)).toMatchObject({ type: 'httpTrigger', route, methods: ['GET'], authLevel: 'anonymous' });
  });

  it('run routes have a Durable client binding; discovery and preview routes need none', () => {
    const hasClient = (name: string) =>
      Object.values(registrations.find((r) => r.metadata.name === name)?.metadata.bindings ?? {}).some((b) => b.type === 'durableClient');
    expect(['startJobRun', 'startCronJobRun', 'getRun', 'cancelRun', 'rerunRun', 'getRunLogs'].every(hasClient)).toBe(true);
    expect(['listJobs', 'listCronJobs', 'previewSchedule', 'listCronJobRuns', 'listRuns'].some(hasClient)).toBe(false);
  });

  it('registers the orchestrator and its activities under the names used to call them', () => {
    expect(trigger('jobRun').type).toBe('orchestrationTrigger');
    for (const name of ['submitRun', 'observeRun', 'stopRun', 'archiveRun']) expect(trigger(name).type).toBe('activityTrigger');
  });

  it('registers the scheduler as a timer every minute at second 0, with a Durable client', () => {
    expect(trigger('scheduler')).toMatchObject({ type: 'timerTrigger', schedule: '0 * * * * *' });
    const bindings = Object.values(registrations.find((r) => r.metadata.name === 'scheduler')?.metadata.bindings ?? {});
    expect(bindings.some((b) => b.type === 'durableClient')).toBe(true);
  });

  it('registers the archive sweep as a timer of its own, every minute at second 30, with no Durable client', () => {
    // Its own function so that a long sweep never delays the scheduler's tick, and each is bounded within the
    // host's functionTimeout (see test/runs/archive-limits.test.ts).
    expect(trigger('archiveSweep')).toMatchObject({ type: 'timerTrigger', schedule: '30 * * * * *' });
    const bindings = Object.values(registrations.find((r) => r.metadata.name === 'archiveSweep')?.metadata.bindings ?? {});
    expect(bindings.some((b) => b.type === 'durableClient')).toBe(false);
  });

  it('registers nothing else', () => {
    expect(registrations.map((r) => r.metadata.name).sort()).toEqual(
      [
        'archiveRun',
        'cancelRun',
        'getRun',
        'getRunLogs',
        'jobRun',
        'listCronJobRuns',
        'listCronJobs',
        'listRuns',
        'listJobs',
        'observeRun',
        'rerunRun',
        'startCronJobRun',
        'startJobRun',
        'stopRun',
        'submitRun',
        'previewSchedule',
        'scheduler',
        'archiveSweep',
        // CronJob management
        'listDeployments',
        'createCronJob',
        'getCronJob',
        'updateCronJob',
        'deleteCronJob',
        // The console
        'listClusters',
        'serveConsole',
        // The audit trail
        'listAuditRecords',
        // The API documents
        'getOpenApiDocument',
        'getSwaggerDocument',
        // Push on completion (issue 23)
        'createRunSubscription',
        'getRunSubscription',
        'deleteRunSubscription',
        'unsubscribeCallback',
        'createSourceSubscription',
        'deleteSourceSubscription',
        'notifyRun',
        'deliverRunEvent',
        'attemptDelivery',
        'deadLetterDelivery',
      ].sort(),
    );
  });
});
