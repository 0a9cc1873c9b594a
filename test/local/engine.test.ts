import * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';

import { newInstance, orchestratorRunner, replay } from '../../local/durable/engine.js';

const t0 = new Date('2026-11-23T10:00:00Z');

/** Sets a custom status of `chars` characters of JSON (a string of chars - 2, with its quotes), then waits. */
function withStatus(chars: number): df.OrchestrationHandler {
  return function* (context) {
    context.df.setCustomStatus('x'.repeat(chars - 2));
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    return 'done';
  };
}

describe('the local engine enforces the host\'s custom status limit', () => {
  it.each([
    ['8,000 characters (15 KB in UTF-16)', 8000, 'Running'],
    ['8,703 characters: 17,406 bytes, 16 KB rounded down, the largest the host takes', 8703, 'Running'],
    ['8,704 characters: 17,408 bytes, 17 KB', 8704, 'Failed'],
    ['20,000 characters', 20_000, 'Failed'],
  ] as const)('a custom status of %s leaves the orchestration %s', async (_, chars, status) => {
    const state = await replay(newInstance('i', 'big', null, t0), orchestratorRunner(withStatus(chars)), t0);
    expect(state.status).toBe(status);
    if (status === 'Failed') {
      expect(state.output).toMatch(/^Orchestrator function 'big' failed: The UTF-16 size of the JSON-serialized payload must not exceed 16 KB/);
      expect(state.pending).toEqual([]);
    } else {
      expect(state.pending).toHaveLength(1);
    }
  });

  it('counts a character outside the BMP as two UTF-16 units', async () => {
    const emoji = '\u{1F600}'.repeat(4352); // 8,704 units
    const handler: df.OrchestrationHandler = function* (context) {
      context.df.setCustomStatus(emoji.slice(0, -2));
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    };
    const state = await replay(newInstance('i', 'big', null, t0), orchestratorRunner(handler), t0);
    expect(state.status).toBe('Failed');
  });
});
