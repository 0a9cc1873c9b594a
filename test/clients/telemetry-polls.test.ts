import { setTimeout as sleep } from 'node:timers/promises';

import { context, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { afterAll, describe, expect, it } from 'vitest';

import { currentTraceparent, emitLog, inRunTraceWhen, startTelemetry, type Telemetry, withSpan } from '../../src/clients/telemetry.js';
import { loadConfig } from '../../src/config.js';
import { ATTRIBUTES } from '../../src/core/telemetry-names.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';

/**
 * A poll's span (inRunTraceWhen), with the real OTLP/HTTP exporters sending to a receiver on loopback: kept when
 * the poll saw something new or threw, in the run's trace as inRunTrace's span would be, timed from the poll's
 * start; nothing exported for a poll that saw nothing new.
 */
const clusters = JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: '/dev/null', namespaces: ['batch'] }]);
const run = { runId: 'poll-abc12', cluster: 'local', namespace: 'batch', source: { kind: 'Job', name: 'report' }, trigger: 'schedule' };
let receiver: OtlpReceiver | undefined;
let telemetry: Telemetry | null = null;

afterAll(async () => {
  await telemetry?.shutdown();
  await receiver?.close();
});

/** Start and end (ms) of each exported span of that name, from the OTLP JSON as sent. */
function timesOf(raw: readonly string[], name: string): { start: number; end: number }[] {
  const found: { start: number; end: number }[] = [];
  for (const body of raw) {
    const parsed = JSON.parse(body) as { resourceSpans?: { scopeSpans: { spans: { name: string; startTimeUnixNano: string; endTimeUnixNano: string }[] }[] }[] };
    for (const resource of parsed.resourceSpans ?? [])
      for (const scope of resource.scopeSpans)
        for (const span of scope.spans)
          if (span.name === name) found.push({ start: Number(BigInt(span.startTimeUnixNano) / 1_000_000n), end: Number(BigInt(span.endTimeUnixNano) / 1_000_000n) });
  }
  return found;
}

describe('a poll in the run\'s trace', () => {
  it('records the span of a poll that saw something new or threw, and none for a poll that saw nothing new', async () => {
    receiver = await startOtlpReceiver();
    telemetry = await startTelemetry(loadConfig({ CLUSTERS: clusters, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }).telemetry);
    let traceparent: string | undefined;
    await withSpan('start run', {}, () => {
      traceparent = currentTraceparent();
      return Promise.resolve();
    });
    const hostSpan = trace.getTracer('host').startSpan('host invocation');
    const poll = (look: string, keep: boolean) =>
      context.with(trace.setSpan(context.active(), hostSpan), () =>
        inRunTraceWhen(
          'observeRun',
          traceparent,
          run,
          async () => {
            // The work runs in the caller's context (the host's invocation), with no span of its own.
            expect(trace.getActiveSpan()).toBe(hostSpan);
            await sleep(25);
            return look;
          },
          () => keep,
          (seen) => {
            emitLog(SeverityNumber.INFO, `run poll-abc12: ${seen}`);
          },
        ),
      );
    const before = Date.now();
    expect(await poll('Running', true)).toBe('Running');
    expect(await poll('Running again', false)).toBe('Running again');
    const failing = context.with(trace.setSpan(context.active(), hostSpan), () =>
      inRunTraceWhen('observeRun', traceparent, run, () => Promise.reject(new Error('the API server went away')), () => false),
    );
    await expect(failing).rejects.toThrow('went away');
    hostSpan.end();
    await telemetry?.flush();

    const start = receiver.spans.find((s) => s.name === 'start run');
    const polls = receiver.spans.filter((s) => s.name === 'observeRun');
    // The kept poll and the one that threw; the poll that saw nothing new made no span.
    expect(polls.map((s) => s.status)).toEqual([0, 2]);
    for (const span of polls) {
      expect(span.traceId).toBe(start?.traceId);
      expect(span.parentSpanId).toBe(start?.spanId);
      expect(span.links).toEqual([{ traceId: hostSpan.spanContext().traceId, spanId: hostSpan.spanContext().spanId }]);
      expect(span.attributes).toMatchObject({ [ATTRIBUTES.runId]: run.runId, [ATTRIBUTES.sourceName]: 'report', [ATTRIBUTES.trigger]: 'schedule' });
    }
    // Timed from the poll's start, though made when it was over.
    const [kept] = timesOf(receiver.raw, 'observeRun');
    expect(kept?.start).toBeGreaterThanOrEqual(before - 1);
    expect((kept?.end ?? 0) - (kept?.start ?? 0)).toBeGreaterThanOrEqual(20);

    // The kept poll's line is in its span, with the run; the poll that saw nothing new made none.
    const line = receiver.logs.find((l) => l.body === 'run poll-abc12: Running');
    expect(line).toMatchObject({ traceId: start?.traceId, spanId: polls[0]?.spanId });
    expect(line?.attributes).toMatchObject({ [ATTRIBUTES.runId]: run.runId, [ATTRIBUTES.trigger]: 'schedule' });
    expect(receiver.logs.some((l) => l.body === 'run poll-abc12: Running again')).toBe(false);
  });
});
