import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';

import { type ActionSignature, actionsOf, orchestratorRunner } from '../../local/durable/engine.js';
import { jobRunInputSchema, runSnapshotSchema } from '../../src/core/schemas.js';
import { jobRun } from '../../src/functions/jobRun.js';
import { ACTIVITIES, ORCHESTRATOR_VERSION } from '../../src/functions/names.js';
import type { GoldenHistory } from './golden/scenarios.js';

/**
 * Instances in flight at a deploy replay their history with the new code. The host matches each action the
 * code takes against the history, in order, by kind and activity name, and fails the instance on the first
 * difference (a non-determinism error): its Job would then never be deleted. So over every recorded history
 * the code of the day must take the recorded actions first, in the same order; it may take more only after
 * everything recorded (such as one more activity before it returns).
 */
const GOLDEN_DIR = join(import.meta.dirname, 'golden');
const goldens: { file: string; golden: GoldenHistory }[] = readdirSync(GOLDEN_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^v\d+(\.\d+)*$/.test(d.name))
  .flatMap((d) =>
    readdirSync(join(GOLDEN_DIR, d.name))
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ file: `${d.name}/${f}`, golden: JSON.parse(readFileSync(join(GOLDEN_DIR, d.name, f), 'utf8')) as GoldenHistory })),
  );

const show = (a: ActionSignature | undefined) => (a ? `${a.kind}${a.name ? ` ${a.name}` : ''}` : 'nothing');

/** Where the handler's actions over a golden history differ from the recorded ones; empty when compatible. */
async function incompatibilities(golden: GoldenHistory, handler: df.OrchestrationHandler): Promise<string[]> {
  const runner = orchestratorRunner(handler);
  const problems: string[] = [];
  for (const [index, execution] of golden.executions.entries()) {
    const result = await actionsOf({ instanceId: 'golden-run', name: golden.orchestrator, input: execution.input, records: execution.records }, runner);
    if (result.error !== undefined) problems.push(`execution ${String(index)}: the orchestrator failed: ${result.error}`);
    execution.actions.forEach((recorded, i) => {
      const now = result.actions[i];
      if (now?.kind !== recorded.kind || now.name !== recorded.name) {
        problems.push(`execution ${String(index)}, action ${String(i)}: history has ${show(recorded)}, the code takes ${show(now)}`);
      }
    });
  }
  return problems;
}

describe('golden histories: in-flight instances survive a deploy', () => {
  it('has golden histories of the current orchestrator version', () => {
    expect(goldens.filter(({ file }) => file.startsWith(`v${ORCHESTRATOR_VERSION}/`)).length).toBeGreaterThan(0);
  });

  it('new instances get the current version: host.json says it, as defaultVersion', () => {
    const host = JSON.parse(readFileSync(join(import.meta.dirname, '../../host.json'), 'utf8')) as {
      extensions: { durableTask: { defaultVersion?: string } };
    };
    expect(host.extensions.durableTask.defaultVersion).toBe(ORCHESTRATOR_VERSION);
  });

  it.each(goldens.map(({ file, golden }) => [file, golden] as const))('%s replays with the actions it recorded', async (_, golden) => {
    expect(await incompatibilities(golden, jobRun)).toEqual([]);
  });

  it.each(goldens.map(({ file, golden }) => [file, golden] as const))('%s: its inputs and snapshots still parse (schemas only grow)', (_, golden) => {
    for (const execution of golden.executions) {
      expect(jobRunInputSchema().safeParse(execution.input).success).toBe(true);
      for (const record of execution.records) {
        if (record.kind !== 'completed' || record.result === null || typeof record.result !== 'object') continue;
        const result = record.result as Record<string, unknown>;
        // An archive outcome, or a throttled delete: no snapshot in them, just where to and when.
        if ('location' in result) {
          expect(result.location === null || typeof result.location === 'string').toBe(true);
          continue;
        }
        if (result.outcome === 'throttled' && !('snapshot' in result)) {
          expect(Number.isNaN(Date.parse(String(result.retryAt)))).toBe(false);
          continue;
        }
        const snapshot = 'snapshot' in result ? result.snapshot : result;
        expect(runSnapshotSchema().safeParse(snapshot).error).toBeUndefined();
      }
    }
  });

  it('accepts an activity added after everything the history recorded, before the orchestration returns', async () => {
    const golden = goldens.find(({ file }) => file === 'v1/happy-path.json')?.golden;
    if (!golden) throw new Error('v1/happy-path.json is missing');
    const withArchive: df.OrchestrationHandler = function* (context) {
      const result: unknown = yield* jobRun(context);
      yield context.df.callActivity('archiveRun', {});
      return result;
    };
    expect(await incompatibilities(golden, withArchive)).toEqual([]);
  });

  it('catches a change to the order of what is scheduled', async () => {
    const golden = goldens.find(({ file }) => file === 'v1/happy-path.json')?.golden;
    if (!golden) throw new Error('v1/happy-path.json is missing');
    const reordered: df.OrchestrationHandler = function* (context) {
      yield context.df.callActivity(ACTIVITIES.observeRun, {});
      return yield* jobRun(context);
    };
    expect(await incompatibilities(golden, reordered)).toContain('execution 0, action 0: history has activity submitRun, the code takes activity observeRun');
  });
});
