import { expect } from 'vitest';

import type { LocalApp } from '../../local/host/server.js';
import { waitFor } from '../integration/helpers.js';

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * The calls the e2e tests make to the app on the local runtime, as a key holder makes them: any
 * route with `?code=`, a start on a Job of the test's namespace, and a run followed to its verdict.
 */
export function appCalls(app: () => LocalApp, namespace: () => string, verdictTimeoutMs?: number) {
  async function call(method: string, path: string, body?: unknown): Promise<Answer> {
    const response = await fetch(`${app().url}/api/${path}${path.includes('?') ? '&' : '?'}code=${app().functionKey}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** Start a run of a Job; its id. A start that subscribed answers 201: the caller waits for the push (src/http/start.ts, subscribedResponse). */
  async function start(job: string, body: Record<string, unknown> = {}): Promise<string> {
    const answer = await call('POST', `jobs/${namespace()}/${job}/runs`, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(body.subscription ? 201 : 202);
    return answer.body.runId as string;
  }

  /** The run's verdict, polled as a caller polls: until the status route no longer answers 202 (200, or 424 for a run that did not succeed). */
  async function verdictOf(runId: string): Promise<Answer> {
    return waitFor(`run ${runId} to end`, async () => {
      const answer = await call('GET', `runs/${runId}`);
      return answer.status === 202 ? undefined : answer;
    }, verdictTimeoutMs);
  }

  /** The run's final snapshot. */
  async function finalOf(runId: string): Promise<Record<string, unknown>> {
    return (await verdictOf(runId)).body;
  }

  /** Start a run of a Job and follow it to its verdict: its id, the status route's final answer and its body. */
  async function runToVerdict(job: string, body: Record<string, unknown> = {}): Promise<{ runId: string; status: number; body: Record<string, unknown> }> {
    const runId = await start(job, body);
    const { status, body: final } = await verdictOf(runId);
    return { runId, status, body: final };
  }

  return { call, start, finalOf, runToVerdict };
}
