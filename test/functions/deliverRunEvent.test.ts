import { describe, expect, it } from 'vitest';

import { type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import { DELIVERY_GIVE_UP_MS } from '../../src/core/subscriptions.js';
import { deliverRunEvent } from '../../src/functions/deliverRunEvent.js';
import { ACTIVITIES } from '../../src/functions/names.js';
import { OrchestrationHarness } from '../support/harness.js';

const t0 = new Date('2026-12-07T03:00:00Z');
const ref = { runId: 'report-abc12', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'report' } };
const success: RunSnapshot = snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message: 'done' }, t0);
const input = { ref, subscriptionId: '0123456789abcdef0123', eventId: 'report-abc12:Success', snapshot: success };
const retry = (error: string, retryAfter?: Date) => ({ kind: 'retry', error, ...(retryAfter ? { retryAfter: retryAfter.toISOString() } : {}) });

async function started(): Promise<OrchestrationHarness> {
  return new OrchestrationHarness(deliverRunEvent, input, t0, 'delivery-report-abc12-success-0123456789abcdef0123').start();
}

describe('deliverRunEvent', () => {
  it('one attempt with the event id of its input (never a URL); delivered ends it', async () => {
    const h = await started();
    expect(h.activity().name).toBe(ACTIVITIES.attemptDelivery);
    expect(h.activity().input).toEqual(input);
    await h.complete(ACTIVITIES.attemptDelivery, { kind: 'delivered' });
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toEqual({ outcome: 'delivered', attempts: 1 });
  });

  it('retries on durable timers, 1 s then 2 s, never sooner than Retry-After, with the same input each time', async () => {
    const h = await started();
    await h.complete(ACTIVITIES.attemptDelivery, retry('the receiver answered HTTP 500'));
    expect(h.timer().fireAt).toEqual(new Date(t0.getTime() + 1_000));
    await h.fire();
    await h.complete(ACTIVITIES.attemptDelivery, retry('the receiver answered HTTP 429', new Date(h.now.getTime() + 30_000)));
    expect(h.timer().fireAt).toEqual(new Date(h.now.getTime() + 30_000));
    await h.fire();
    expect(h.activity().input).toEqual(input);
    await h.complete(ACTIVITIES.attemptDelivery, { kind: 'delivered' });
    expect(h.state.output).toEqual({ outcome: 'delivered', attempts: 3 });
  });

  it('a failed activity (the subscriptions store down) is a failed attempt, retried', async () => {
    const h = await started();
    await h.fail(ACTIVITIES.attemptDelivery, 'read blob failed: HTTP 503');
    await h.fire();
    await h.complete(ACTIVITIES.attemptDelivery, { kind: 'delivered' });
    expect(h.state.output).toEqual({ outcome: 'delivered', attempts: 2 });
  });

  it('410 Gone and an unsubscribe end it without a dead letter', async () => {
    for (const outcome of [{ kind: 'gone' }, { kind: 'skipped', why: 'unsubscribed' }]) {
      const h = await started();
      await h.complete(ACTIVITIES.attemptDelivery, outcome);
      expect(h.state.status).toBe('Completed');
      expect(h.pending).toEqual([]);
    }
  });

  it('after a day of failures: a dead letter with the last error, in about 35 attempts', async () => {
    const h = await started();
    let attempts = 0;
    while (h.pending.some((w) => w.kind === 'activity' && w.name === ACTIVITIES.attemptDelivery)) {
      attempts++;
      await h.complete(ACTIVITIES.attemptDelivery, retry(`no answer within 10000 ms (${String(attempts)})`));
      if (h.pending.some((w) => w.kind === 'timer')) await h.fire();
    }
    expect(attempts).toBeLessThan(40);
    expect(h.now.getTime() - t0.getTime()).toBeLessThanOrEqual(DELIVERY_GIVE_UP_MS);
    expect(h.activity().name).toBe(ACTIVITIES.deadLetterDelivery);
    expect(h.activity().input).toEqual({ ...input, attempts, lastError: `no answer within 10000 ms (${String(attempts)})` });
    await h.complete(ACTIVITIES.deadLetterDelivery, 'run-logs/dev/batch/report-abc12/dead-letters/0123456789abcdef0123.json');
    expect(h.state.output).toMatchObject({ outcome: 'deadLettered', attempts });
  });

  it('an attempt that cannot succeed by retrying (a redirect, a refused address) is dead-lettered at once', async () => {
    const h = await started();
    await h.complete(ACTIVITIES.attemptDelivery, { kind: 'failed', error: 'the receiver answered HTTP 302, a redirect, which is never followed' });
    expect(h.activity().name).toBe(ACTIVITIES.deadLetterDelivery);
  });
});
