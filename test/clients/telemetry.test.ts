import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

import { context, metrics, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { afterAll, describe, expect, it } from 'vitest';

import {
  currentTraceparent,
  emitLog,
  type FunctionsHooks,
  inRunTrace,
  instruments,
  markRun,
  startTelemetry,
  type Telemetry,
  telemetryStarted,
  withInvocationContext,
  withSpan,
} from '../../src/clients/telemetry.js';
import { loadConfig } from '../../src/config.js';
import { kubeRequestOf } from '../../src/core/kube-request.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';
import { recordRunning, recordVerdict } from '../../src/runs/run-telemetry.js';
import { metricTotal, type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';

/**
 * The telemetry client with its real OTLP/HTTP exporters sending to a receiver on loopback: the trace a run's
 * input carries joins the start's span, each activity's span and the orchestration's span in one trace; metrics
 * arrive under their documented names and units; log records carry the run's attributes and trace.
 */
const clusters = JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: '/dev/null', namespaces: ['batch'] }]);
let receiver: OtlpReceiver | undefined;
let telemetry: Telemetry | null = null;

afterAll(async () => {
  await telemetry?.shutdown();
  await receiver?.close();
});

/** The tracing headers durable-functions' DurableClient sends with its requests to the host (it reads no `this`). */
const durableClientHeaders = (): Record<string, string> => {
  const { DurableClient } = createRequire(import.meta.url)('durable-functions/lib/src/durableClient/DurableClient.js') as {
    DurableClient: { prototype: { getDistributedTracingHeaders: () => Record<string, string> } };
  };
  return DurableClient.prototype.getDistributedTracingHeaders.call({});
};

const run = { runId: 'report-abc12', cluster: 'local', namespace: 'batch', source: { kind: 'Job', name: 'report' }, trigger: 'http' };

describe('telemetry off', () => {
  it('sets nothing up and exports nothing when no destination is configured', async () => {
    expect(await startTelemetry(loadConfig({ CLUSTERS: clusters }).telemetry)).toBeNull();
    expect(telemetryStarted()).toBeUndefined();
    // The API's no-ops: no span records, no trace context reaches a run's input.
    await withSpan('start run', {}, (span) => {
      expect(span.isRecording()).toBe(false);
      expect(currentTraceparent()).toBeUndefined();
      return Promise.resolve();
    });
  });
});

describe('telemetry to an OTLP endpoint', () => {
  it('exports one trace from the start through each activity to the verdict, with the run on every span and log record', async () => {
    receiver = await startOtlpReceiver();
    telemetry = await startTelemetry(loadConfig({ CLUSTERS: clusters, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }).telemetry);
    expect(telemetry?.destinations).toEqual(['otlp']);

    let traceparent: string | undefined;
    await withSpan('start run', { [ATTRIBUTES.callerKind]: 'key' }, (span) =>
      markRun(span, run, () => {
        traceparent = currentTraceparent();
        emitLog(SeverityNumber.INFO, 'run report-abc12: started');
        instruments().runsStarted.add(1, { [ATTRIBUTES.cluster]: 'local' });
        return Promise.resolve();
      }),
    );
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // An activity runs later, elsewhere, with nothing active but its host's span: the input's traceparent leads.
    const hostSpan = trace.getTracer('host').startSpan('host invocation');
    await context.with(trace.setSpan(context.active(), hostSpan), () =>
      inRunTrace('submitRun', traceparent, run, () => {
        emitLog(SeverityNumber.INFO, 'run report-abc12: submit created');
        return Promise.resolve();
      }),
    );
    hostSpan.end();
    const input = { request: { ...run, trigger: { kind: 'http' }, traceparent }, startedAt: new Date(Date.now() - 30_000).toISOString() } as unknown as JobRunInput;
    recordRunning(input, new Date(Date.now() - 20_000));
    recordVerdict(input, { status: 'Failed', reason: 'BackoffLimitExceeded', failureKind: 'OOMKilled' } as never, new Date());
    await telemetry?.flush();

    const traceId = traceparent?.split('-')[1];
    const start = receiver.spans.find((s) => s.name === 'start run');
    const submit = receiver.spans.find((s) => s.name === 'submitRun');
    const orchestration = receiver.spans.find((s) => s.name === 'orchestration jobRun');
    expect(start?.traceId).toBe(traceId);
    expect(submit?.traceId).toBe(traceId);
    expect(submit?.parentSpanId).toBe(start?.spanId);
    // Linked to the host's span of its invocation, so the host's trace and the run's lead to each other.
    expect(submit?.links).toEqual([{ traceId: hostSpan.spanContext().traceId, spanId: hostSpan.spanContext().spanId }]);
    expect(orchestration?.traceId).toBe(traceId);
    expect(orchestration?.status).toBe(2);
    for (const span of [start, submit, orchestration]) {
      expect(span?.attributes).toMatchObject({
        [ATTRIBUTES.runId]: run.runId,
        [ATTRIBUTES.cluster]: 'local',
        [ATTRIBUTES.namespace]: 'batch',
        [ATTRIBUTES.sourceKind]: 'Job',
        [ATTRIBUTES.sourceName]: 'report',
        [ATTRIBUTES.trigger]: 'http',
      });
    }
    expect(receiver.resources.every((r) => r['service.name'] === 'aks-job-runner')).toBe(true);

    for (const line of ['run report-abc12: started', 'run report-abc12: submit created']) {
      const record = receiver.logs.find((l) => l.body === line);
      expect(record?.traceId, line).toBe(traceId);
      expect(record?.attributes[ATTRIBUTES.runId], line).toBe(run.runId);
      expect(record?.attributes[ATTRIBUTES.trigger], line).toBe('http');
    }
    const finished = receiver.logs.find((l) => l.eventName === EVENTS.runFinished);
    expect(finished).toMatchObject({ traceId, severityText: 'WARN' });
    expect(finished?.attributes).toMatchObject({ [ATTRIBUTES.runId]: run.runId, [ATTRIBUTES.status]: 'Failed', [ATTRIBUTES.failureKind]: 'OOMKilled' });

    const byName = new Map(receiver.metrics.map((m) => [m.name, m]));
    expect(byName.get(METRICS.runsStarted)).toMatchObject({ unit: '{run}', kind: 'sum' });
    expect(byName.get(METRICS.runsFinished)).toMatchObject({ unit: '{run}', kind: 'sum' });
    expect(byName.get(METRICS.runDuration)).toMatchObject({ unit: 's', kind: 'histogram' });
    expect(byName.get(METRICS.runTimeToRunning)).toMatchObject({ unit: 's', kind: 'histogram' });
    expect(metricTotal(receiver.metrics, METRICS.runsFinished, (a) => a[ATTRIBUTES.failureKind] === 'OOMKilled' && a[ATTRIBUTES.status] === 'Failed')).toBe(1);
    const duration = receiver.metrics.filter((m) => m.name === METRICS.runDuration).at(-1)?.points[0];
    expect(duration?.sum).toBeGreaterThanOrEqual(29);
    expect(duration?.sum).toBeLessThan(40);
    // A run id on a metric would make one series per run.
    for (const metric of receiver.metrics) for (const point of metric.points) expect(point.attributes[ATTRIBUTES.runId], metric.name).toBeUndefined();
    expect(metrics.getMeterProvider()).not.toBe(undefined);
  });
});

describe('the Functions worker hooks (what @azure/functions-opentelemetry-instrumentation registers)', () => {
  it('runs each invocation in the host\'s trace context, exports context.log lines, and tells the host it does', async () => {
    await telemetry?.shutdown();
    receiver ??= await startOtlpReceiver();
    let logHook: Parameters<FunctionsHooks['hook']['log']>[0] | undefined;
    let preInvocation: Parameters<FunctionsHooks['hook']['preInvocation']>[0] | undefined;
    const capabilities: Record<string, boolean>[] = [];
    telemetry = await startTelemetry(loadConfig({ CLUSTERS: clusters, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }).telemetry, {
      functions: {
        setup: (options) => capabilities.push(options.capabilities),
        hook: {
          log: (handler) => (logHook = handler),
          preInvocation: (handler) => (preInvocation = handler),
        },
      },
    });
    expect(capabilities).toEqual([{ WorkerOpenTelemetryEnabled: true }]);
    // The host's trace context of an invocation, as the worker hands it to the preInvocation hook, with the context
    // object the handler gets; the worker runs the log hooks inside context.log, with that object.
    const hostTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const invocationContext = { traceContext: { traceParent: `00-${hostTrace}-00f067aa0ba902b7-01`, traceState: 'az=1' } };
    const log = (message: string) => logHook?.({ level: 'warning', message, category: 'user', invocationContext });
    const hook = {
      invocationContext,
      // As a handler does: it awaits (reads the request, the cluster) before and inside the run's span, so nothing
      // active is left of the context by then; the invocation carries it.
      functionHandler: async () => {
        await sleep(5);
        log('a line of the invocation before the run');
        return withSpan(
          'start run',
          {},
          (span) =>
            markRun(
              span,
              { ...run, runId: 'hooked-run' },
              async () => {
                await sleep(5);
                log('run hooked-run: a line of context.log');
                const traceparent = new RegExp(`^00-${hostTrace}-${span.spanContext().spanId}-01$`);
                expect(currentTraceparent(invocationContext)).toMatch(traceparent);
                // What durable-functions' client sends the host with startNew, read from the active context when
                // called (its DurableClient.getDistributedTracingHeaders): the run's start span, as src/runs/start.ts calls it.
                expect(withInvocationContext(invocationContext, () => durableClientHeaders()).traceparent).toMatch(traceparent);
              },
              invocationContext,
            ),
          invocationContext,
        );
      },
    };
    preInvocation?.(hook);
    await hook.functionHandler();
    log('a line of the invocation after the run');
    await telemetry?.flush();
    const span = receiver.spans.find((s) => s.attributes[ATTRIBUTES.runId] === 'hooked-run');
    expect(span).toMatchObject({ traceId: hostTrace, parentSpanId: '00f067aa0ba902b7' });
    const line = receiver.logs.find((l) => l.body === 'run hooked-run: a line of context.log');
    expect(line).toMatchObject({ traceId: hostTrace, spanId: span?.spanId, severityText: 'WARN' });
    expect(line?.attributes).toMatchObject({ [ATTRIBUTES.runId]: 'hooked-run', 'log.category': 'user' });
    // The invocation's own lines, before and after the run's span: in the host's trace, without the run.
    for (const body of ['a line of the invocation before the run', 'a line of the invocation after the run']) {
      const other = receiver.logs.find((l) => l.body === body);
      expect(other, body).toMatchObject({ traceId: hostTrace, spanId: '00f067aa0ba902b7' });
      expect(other?.attributes[ATTRIBUTES.runId], body).toBeUndefined();
    }
  });

  it('follows no context across an await: no AsyncLocalStorage, whose promise hooks would cost every promise', async () => {
    // docs/decisions.md, "Issue 24, check 'what telemetry costs': no async context manager". The invocation
    // carries its context (the test above); an async context manager registered again would fail this.
    expect(telemetry).not.toBeNull();
    const span = trace.getTracer('test').startSpan('anything');
    const seen = await context.with(trace.setSpan(context.active(), span), async () => {
      const before = trace.getActiveSpan();
      await sleep(1);
      return { before, after: trace.getActiveSpan() };
    });
    span.end();
    expect(seen.before).toBe(span);
    expect(seen.after).toBeUndefined();
  });

  it('leaves the logs to a host without log hooks (older than 4.34)', async () => {
    await telemetry?.shutdown();
    const capabilities: unknown[] = [];
    telemetry = await startTelemetry(loadConfig({ CLUSTERS: clusters, OTEL_EXPORTER_OTLP_ENDPOINT: receiver?.endpoint }).telemetry, {
      functions: {
        setup: (options) => capabilities.push(options),
        hook: {
          log: () => {
            throw new Error('Log hooks require Azure Functions Host v4.34 or higher.');
          },
          preInvocation: () => undefined,
        },
      },
    });
    expect(telemetry?.destinations).toEqual(['otlp']);
    expect(capabilities).toEqual([]);
  });
});

describe('kubeRequestOf', () => {
  it.each([
    ['GET', 'https://aks:443/apis/batch/v1/namespaces/batch/jobs/report-1', 'get', 'jobs'],
    ['GET', 'https://aks:443/apis/batch/v1/namespaces/batch/jobs?labelSelector=a%3Db', 'list', 'jobs'],
    ['GET', 'https://aks:443/apis/batch/v1/cronjobs?labelSelector=x', 'list', 'cronjobs'],
    ['GET', 'https://aks:443/api/v1/namespaces/batch/pods/p-1/log?container=main', 'get', 'pods/log'],
    ['GET', 'https://aks:443/api/v1/namespaces/batch/events?watch=true', 'watch', 'events'],
    ['POST', 'https://aks:443/apis/batch/v1/namespaces/batch/jobs', 'create', 'jobs'],
    ['PATCH', 'https://aks:443/apis/batch/v1/namespaces/batch/cronjobs/nightly', 'patch', 'cronjobs'],
    ['DELETE', 'https://aks:443/apis/batch/v1/namespaces/batch/jobs/report-1', 'delete', 'jobs'],
    ['DELETE', 'https://aks:443/apis/batch/v1/namespaces/batch/jobs', 'deletecollection', 'jobs'],
    ['GET', 'https://aks:443/api/v1/namespaces', 'list', 'namespaces'],
  ])('%s %s is %s of %s', (method, url, verb, resource) => {
    expect(kubeRequestOf(method, url)).toEqual({ verb, resource });
  });
});
