import { SeverityNumber } from '@opentelemetry/api-logs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { emitEvent } from '../../src/clients/otel-events.js';
import { emitLog } from '../../src/clients/telemetry.js';
import { ATTRIBUTES, EVENTS } from '../../src/core/telemetry-names.js';
import { captureTelemetry, type TelemetryCapture } from '../support/otel-capture.js';

/**
 * What Application Insights keeps of a log record is its attributes (AppTraces.Properties): the Azure Monitor
 * exporter drops the record's eventName. So every event carries its name as the `event.name` attribute, which the
 * queries of infra/queries read, and the verdict event carries the run's duration in seconds, which the
 * workbook's p50/p95 (infra/queries/run-duration.kql) reads.
 */
let telemetry: TelemetryCapture;
beforeAll(() => {
  telemetry = captureTelemetry();
});
afterAll(async () => {
  await telemetry.stop();
});
beforeEach(async () => {
  await telemetry.reset();
});

describe('event names as attributes', () => {
  it('emitLog names an event both ways; a plain line gets no event.name', () => {
    emitLog(SeverityNumber.INFO, 'named', { a: 1 }, 'ajr.test.named');
    emitLog(SeverityNumber.INFO, 'plain', { a: 2 });
    const [named, plain] = telemetry.logRecords();
    expect(named?.eventName).toBe('ajr.test.named');
    expect(named?.attributes).toEqual({ a: 1, 'event.name': 'ajr.test.named' });
    expect(plain?.attributes).toEqual({ a: 2 });
  });

  it('emitEvent (the scheduler\'s and the audit trail\'s) goes through the same record, and its name is not overridden by an attribute', () => {
    emitEvent(EVENTS.audit, 'a change', { 'event.name': 'something else', [ATTRIBUTES.outcome]: 'succeeded' }, 'warn');
    const [record] = telemetry.logRecords();
    expect(record).toMatchObject({ eventName: EVENTS.audit, severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'a change' });
    expect(record?.attributes).toEqual({ 'event.name': EVENTS.audit, [ATTRIBUTES.outcome]: 'succeeded' });
  });
});
