import { type Counter, type Histogram, type MeterProvider, metrics } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';

import { INSTRUMENTATION_SCOPE } from '../core/telemetry-names.js';
import { emitLog, type Invocation } from './telemetry.js';

/**
 * The OpenTelemetry API globals, as the scheduler and the audit trail use them: log events and the instruments of
 * docs/operations.md. Until an SDK is registered (src/setup's telemetry) every call is a no-op, so this module
 * costs nothing where telemetry is off.
 *
 * The metrics API has no proxy: a meter taken from the global provider before the SDK registers stays a no-op for
 * ever. So meters and instruments are looked up per call and cached per provider: one lookup of a WeakMap once
 * the SDK is in place.
 */

export type SignalAttributes = Record<string, string | number | boolean>;

interface Instruments {
  counters: Map<string, Counter>;
  histograms: Map<string, Histogram>;
}
const byProvider = new WeakMap<MeterProvider, Instruments>();

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  let found = byProvider.get(provider);
  if (!found) {
    found = { counters: new Map(), histograms: new Map() };
    byProvider.set(provider, found);
  }
  return found;
}

/** Add to a counter of METRICS. */
export function count(name: string, unit: string, description: string, attributes: SignalAttributes, value = 1): void {
  const cache = instruments().counters;
  let counter = cache.get(name);
  if (!counter) {
    counter = metrics.getMeter(INSTRUMENTATION_SCOPE).createCounter(name, { unit, description });
    cache.set(name, counter);
  }
  counter.add(value, attributes);
}

/** Record a value in a histogram of METRICS. */
export function record(name: string, unit: string, description: string, value: number, attributes: SignalAttributes): void {
  const cache = instruments().histograms;
  let histogram = cache.get(name);
  if (!histogram) {
    histogram = metrics.getMeter(INSTRUMENTATION_SCOPE).createHistogram(name, { unit, description });
    cache.set(name, histogram);
  }
  histogram.record(value, attributes);
}

/**
 * One log event of EVENTS: telemetry.ts's emitLog, the one place a log record is made, which names the event both
 * in the record's `eventName` and in its `event.name` attribute (what infra/queries reads) and adds the run's
 * attributes when made in a run's span. In the trace of `invocation` (its InvocationContext) when given.
 */
export function emitEvent(name: string, body: string, attributes: SignalAttributes, severity: 'info' | 'warn' = 'info', invocation?: Invocation): void {
  emitLog(severity === 'warn' ? SeverityNumber.WARN : SeverityNumber.INFO, body, attributes, name, invocation);
}
