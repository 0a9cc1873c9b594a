import { describe, expect, it } from 'vitest';

import {
  DELIVERY_GIVE_UP_MS,
  DELIVERY_MAX_WAIT_MS,
  deliveryInstanceIdOf,
  deliveryWaitMs,
  eventIdOf,
  eventTypeOfId,
  isLogicAppsCallback,
  isSubscriptionId,
  jobCreated,
  outcomeOf,
  sourceSubscriptionRequestSchema,
  startedEventIdOf,
  subscriptionIdOf,
  subscriptionRequestSchema,
} from '../../src/core/subscriptions.js';

const LOGIC_APPS =
  'https://prod-03.westus.logic.azure.com:443/workflows/d4690301f3b340de9330256bb2e83974/runs/08584433/actions/Run_job/run?api-version=2016-06-01&sp=%2Fruns%2F08584433%2Factions%2FRun_job%2Frun&sv=1.0&sig=JXbHjs3qzLPDyk';

describe('subscription ids', () => {
  it('the same run and URL is the same subscription; another URL or run is another', () => {
    const id = subscriptionIdOf('report-abc12', 'https://hooks.contoso.com/a');
    expect(isSubscriptionId(id)).toBe(true);
    expect(subscriptionIdOf('report-abc12', 'https://hooks.contoso.com/a')).toBe(id);
    expect(subscriptionIdOf('report-abc12', 'https://hooks.contoso.com/b')).not.toBe(id);
    expect(subscriptionIdOf('report-xyz99', 'https://hooks.contoso.com/a')).not.toBe(id);
  });

  it('an id tells nothing of the URL it was made from (no part of a sig= survives in it)', () => {
    const id = subscriptionIdOf('report-abc12', LOGIC_APPS);
    expect(LOGIC_APPS).not.toContain(id);
    expect(id).toMatch(/^[0-9a-f]{20}$/);
  });

  it('the event id is the run and its verdict; the delivery instance id adds the subscription and is one Durable accepts', () => {
    expect(eventIdOf('report-abc12', 'Success')).toBe('report-abc12:Success');
    const instance = deliveryInstanceIdOf('report-abc12', 'Failed', 'a'.repeat(20));
    expect(instance).toBe(`delivery-report-abc12-failed-${'a'.repeat(20)}`);
    expect(instance.length).toBeLessThanOrEqual(256);
    expect(instance).not.toMatch(/[/\\#?]/);
  });
});

describe('isLogicAppsCallback', () => {
  it.each([
    ['a Logic Apps callback with its sig', LOGIC_APPS, true],
    ['a Power Automate flow URL with its sig', 'https://0123.09.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/x/triggers/manual/paths/invoke?sig=abc', true],
    ['a Logic Apps host without sig (not a callback URL Logic Apps handed out)', 'https://prod-03.westus.logic.azure.com/workflows/x', false],
    ['a look-alike host', 'https://logic.azure.com.evil.example/workflows/x?sig=1', false],
    ['any other receiver', 'https://hooks.contoso.com/aks?sig=1', false],
  ])('%s', (_name, url, expected) => {
    expect(isLogicAppsCallback(new URL(url))).toBe(expected);
  });
});

describe('deliveryWaitMs', () => {
  it.each([
    ['after the first failure: a second', 1, undefined, 1_000],
    ['after the fourth: eight seconds', 4, undefined, 8_000],
    ['late attempts wait an hour at most', 30, undefined, DELIVERY_MAX_WAIT_MS],
    ['a Retry-After longer than the backoff is waited for', 1, 30_000, 30_000],
    ['a Retry-After shorter than the backoff does not hurry it', 5, 1_000, 16_000],
    ['a Retry-After of a week is cut to an hour', 1, 7 * 24 * 3600_000, 3600_000],
    ['a Retry-After in the past waits the backoff', 1, -5_000, 1_000],
  ])('%s', (_name, attempts, retryAfter, expected) => {
    expect(deliveryWaitMs(attempts, retryAfter)).toBe(expected);
  });

  it('a day of failures is some 35 attempts, so a delivery needs no continueAsNew', () => {
    let elapsed = 0;
    let attempts = 0;
    while (elapsed <= DELIVERY_GIVE_UP_MS) elapsed += deliveryWaitMs(++attempts, undefined);
    expect(attempts).toBeLessThan(40);
  });
});

describe('outcomeOf', () => {
  it.each([
    ['200 is delivered', { status: 200 }, { kind: 'delivered' }],
    ['204 is delivered', { status: 204 }, { kind: 'delivered' }],
    ['410 Gone ends the subscription', { status: 410 }, { kind: 'gone' }],
    ['500 is retried', { status: 500 }, { kind: 'retry', error: 'the receiver answered HTTP 500' }],
    ['404 is retried (a receiver being redeployed)', { status: 404 }, { kind: 'retry', error: 'the receiver answered HTTP 404' }],
    ['a redirect is not followed, nor retried', { status: 302 }, { kind: 'failed', error: 'the receiver answered HTTP 302, a redirect, which is never followed' }],
    ['no answer is retried', { error: 'timed out after 10000 ms', transient: true }, { kind: 'retry', error: 'timed out after 10000 ms' }],
    ['a refused address is not retried', { error: 'resolves to a private address', transient: false }, { kind: 'failed', error: 'resolves to a private address' }],
  ])('%s', (_name, result, expected) => {
    expect(outcomeOf(result)).toEqual(expected);
  });

  it('429 with Retry-After carries the instant', () => {
    const at = new Date('2026-12-07T03:00:10Z');
    expect(outcomeOf({ status: 429, retryAfter: at })).toEqual({ kind: 'retry', error: 'the receiver answered HTTP 429', retryAfter: at.toISOString() });
  });
});

describe('subscriptionRequestSchema', () => {
  it('takes a url, and events and format when given', () => {
    expect(subscriptionRequestSchema().parse({ url: 'https://x.example/a' })).toEqual({ url: 'https://x.example/a' });
    expect(subscriptionRequestSchema().parse({ url: 'https://x.example/a', events: ['finished'], format: 'cloudevents' })).toMatchObject({ format: 'cloudevents' });
  });

  it.each([
    ['an unknown event type', { url: 'https://x.example/a', events: ['deleted'] }],
    ['an unknown field', { url: 'https://x.example/a', secret: 'x' }],
    ['no url', { events: ['finished'] }],
  ])('refuses %s', (_name, body) => {
    expect(subscriptionRequestSchema().safeParse(body).success).toBe(false);
  });
});

describe('started (issue 23, item 3)', () => {
  it('a run subscription may ask for started, finished or both; a source subscription for finished only', () => {
    for (const events of [['started'], ['finished'], ['started', 'finished']]) {
      expect(subscriptionRequestSchema().safeParse({ url: 'https://x.example/a', events }).success, events.join(',')).toBe(true);
    }
    expect(sourceSubscriptionRequestSchema().safeParse({ namespace: 'batch', url: 'https://x.example/a', events: ['finished'] }).success).toBe(true);
    expect(sourceSubscriptionRequestSchema().safeParse({ namespace: 'batch', url: 'https://x.example/a', events: ['started'] }).success).toBe(false);
  });

  it('the start\'s event id is one per run and tells itself from every verdict\'s', () => {
    expect(startedEventIdOf('report-abc12')).toBe('report-abc12:Started');
    expect(eventTypeOfId(startedEventIdOf('report-abc12'))).toBe('started');
    for (const status of ['Success', 'Failed', 'Cancelled'] as const) expect(eventTypeOfId(eventIdOf('report-abc12', status))).toBe('finished');
    expect(deliveryInstanceIdOf('report-abc12', 'Started', 'a'.repeat(20))).toBe(`delivery-report-abc12-started-${'a'.repeat(20)}`);
  });

  it.each([
    ['the submit\'s own snapshot', { status: 'Starting', reason: 'Submitted', startTime: null }, true],
    ['a run observed running', { status: 'Running', reason: 'Running', startTime: null }, true],
    ['a verdict with the Job\'s start time', { status: 'Success', reason: 'CompletionsReached', startTime: '2026-12-07T06:00:00Z' }, true],
    ['a start waiting while throttled', { status: 'Starting', reason: 'Throttled', startTime: null }, false],
    ['a run refused before its Job was made', { status: 'Failed', reason: 'SourceNotFound', startTime: null }, false],
  ] as const)('jobCreated: %s → %s', (_name, snapshot, created) => {
    expect(jobCreated(snapshot)).toBe(created);
  });
});
