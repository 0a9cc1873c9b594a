import { randomUUID } from 'node:crypto';

import type { AccessToken, TokenCredential } from '@azure/identity';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { emitLog, instruments, startTelemetry, type Telemetry, withSpan } from '../../src/clients/telemetry.js';
import { loadConfig } from '../../src/config.js';
import { METRICS } from '../../src/core/telemetry-names.js';
import { waitFor } from '../integration/helpers.js';
import { type BreezeReceiver, startBreezeReceiver, trustInThisProcess } from '../support/breeze-receiver.js';

/**
 * The telemetry client's Azure Monitor path as it is set up on Azure, where the platform sets WEBSITE_SITE_NAME:
 * every envelope (span, metric, log record) carries the function app's name as its cloud role, the service name
 * the host gives its own telemetry (azure-functions-host src/WebJobs.Script/Diagnostics/OpenTelemetry/
 * FunctionsResourceDetector.cs: service.name = WEBSITE_SITE_NAME), so Application Insights shows host and app as
 * one role. The whole path with a managed identity and runs is test/e2e/azure-monitor.test.ts.
 */
const INSTRUMENTATION_KEY = randomUUID();
const TOKEN = `token-${randomUUID()}`;
let receiver: BreezeReceiver;
let untrust: () => void = () => undefined;
let telemetry: Telemetry | null = null;
const scopes: string[][] = [];
const credential: TokenCredential = {
  getToken: (asked: string | string[]): Promise<AccessToken> => {
    scopes.push(Array.isArray(asked) ? asked : [asked]);
    return Promise.resolve({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 });
  },
};

beforeAll(async () => {
  receiver = await startBreezeReceiver({ instrumentationKey: INSTRUMENTATION_KEY, token: TOKEN });
  untrust = trustInThisProcess(receiver.ca);
  // The connection string, and the proxy through which the ingestion host it names is the receiver.
  Object.assign(process.env, receiver.env);
  const config = loadConfig({
    ...process.env,
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: '/dev/null', namespaces: ['batch'] }]),
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
    WEBSITE_SITE_NAME: 'func-jobs-abc',
  });
  telemetry = await startTelemetry(config.telemetry, { credential: () => Promise.resolve(credential) });
});

afterAll(async () => {
  await telemetry?.shutdown();
  await receiver.close();
  untrust();
  for (const name of [...Object.keys(receiver.env), 'APPLICATIONINSIGHTS_SDKSTATS_DISABLED']) Reflect.deleteProperty(process.env, name);
});

describe('telemetry to Application Insights on Azure', () => {
  it("gives every span, metric and log record the function app's name as cloud role, sent with the identity's token", async () => {
    expect(telemetry?.destinations).toEqual(['azure-monitor']);
    await withSpan('start run', {}, () => {
      emitLog(SeverityNumber.INFO, 'a line');
      return Promise.resolve();
    });
    instruments().runsStarted.add(1);
    await telemetry?.flush();
    const kinds = await waitFor('a span, a metric and a message', () => {
      const found = new Set(receiver.envelopes.map((e) => e.data.baseType));
      return Promise.resolve(['RemoteDependencyData', 'MetricData', 'MessageData'].every((k) => found.has(k)) ? found : undefined);
    }, 10_000);
    expect(kinds.size).toBeGreaterThanOrEqual(3);
    for (const envelope of receiver.envelopes) expect(envelope.tags['ai.cloud.role'], envelope.data.baseType).toBe('func-jobs-abc');
    expect(receiver.envelopes.some((e) => e.data.baseData.metrics?.some((m) => m.name === METRICS.runsStarted))).toBe(true);
    expect(receiver.requests.every((r) => r.authorization === `Bearer ${TOKEN}` && r.contentEncoding === 'gzip' && r.status === 200)).toBe(true);
    expect(new Set(scopes.flat())).toEqual(new Set(['https://monitor.azure.com/.default']));
  });
});
