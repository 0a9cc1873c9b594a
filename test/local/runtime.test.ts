import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as df from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';

import { orchestratorRunner } from '../../local/durable/engine.js';
import { LocalDurable } from '../../local/durable/runtime.js';

interface SampleInput {
  generation: number;
  waitMs: number;
}

/** Exercises what the local runtime must support: continueAsNew, custom status, timers, events, activities. */
function* sample(context: df.OrchestrationContext): Generator<df.Task, unknown, unknown> {
  const input = context.df.getInput<SampleInput>();
  context.df.setCustomStatus({ generation: input.generation });
  if (input.generation < 2) {
    context.df.continueAsNew({ ...input, generation: input.generation + 1 });
    return undefined;
  }
  const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + input.waitMs));
  const go = context.df.waitForExternalEvent('go');
  const winner = yield context.df.Task.any([timer, go]);
  if (winner === go) timer.cancel();
  const doubled = yield context.df.callActivity('double', 21);
  return { doubled, by: winner === go ? 'event' : 'timer', generation: input.generation, event: winner === go ? go.result : null };
}

const activities = { double: (input: unknown) => Number(input) * 2 };
const runtimes: LocalDurable[] = [];
const dirs: string[] = [];

function runtime(stateDir?: string, defaultVersion?: string, log?: (line: string) => void): LocalDurable {
  const r = new LocalDurable({
    orchestrators: { sample: orchestratorRunner(sample) },
    activities,
    ...(stateDir ? { stateDir } : {}),
    ...(defaultVersion ? { defaultVersion } : {}),
    ...(log ? { log } : {}),
  });
  runtimes.push(r);
  return r;
}

async function until(r: LocalDurable, id: string, status: string, timeoutMs = 5000): Promise<Awaited<ReturnType<LocalDurable['getStatus']>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await r.getStatus(id);
    if ((s.runtimeStatus as string) === status) return s;
    if (Date.now() > deadline) throw new Error(`${id} is ${s.runtimeStatus}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('the local Durable runtime', () => {
  it('continues as new, fires timers on the real clock, runs activities and completes', async () => {
    const r = runtime();
    await r.startNew('sample', { instanceId: 'a', input: { generation: 0, waitMs: 50 } });
    const status = await until(r, 'a', 'Completed');
    expect(status.output).toEqual({ doubled: 42, by: 'timer', generation: 2, event: null });
    expect(status.customStatus).toEqual({ generation: 2 });
    expect(status.input).toEqual({ generation: 2, waitMs: 50 });
  });

  it('delivers an external event, which wins over a pending timer', async () => {
    const r = runtime();
    await r.startNew('sample', { instanceId: 'b', input: { generation: 2, waitMs: 60_000 } });
    await until(r, 'b', 'Running');
    await r.raiseEvent('b', 'go', { by: 'test' });
    const status = await until(r, 'b', 'Completed');
    expect(status.output).toMatchObject({ by: 'event', event: { by: 'test' } });
  });

  it('terminates an instance: no more work runs and its status is Terminated', async () => {
    const r = runtime();
    await r.startNew('sample', { instanceId: 'c', input: { generation: 2, waitMs: 60_000 } });
    await until(r, 'c', 'Running');
    await r.terminate('c', 'by test');
    const status = await until(r, 'c', 'Terminated');
    expect(status.output).toBe('by test');
  });

  it('answers raiseEvent as the host: an unknown id rejects (404), a finished instance resolves and drops the event (410)', async () => {
    // azure-functions-durable-extension HttpApiHandler.HandleRaiseEventRequestAsync answers 404 for an unknown
    // instance and 410 Gone for a Completed, Failed, Canceled or Terminated one; durable-functions' client
    // (lib/src/durableClient/DurableClient.js, raiseEvent) resolves on 202 and 410 and rejects on 404.
    const r = runtime();
    await expect(r.raiseEvent('never-started', 'go', {})).rejects.toThrow("No instance with ID 'never-started' found.");
    await r.startNew('sample', { instanceId: 'g', input: { generation: 2, waitMs: 60_000 } });
    await until(r, 'g', 'Running');
    await r.terminate('g', 'by test');
    await until(r, 'g', 'Terminated');
    const records = r.state('g')?.records.length;
    await expect(r.raiseEvent('g', 'go', {})).resolves.toBeUndefined();
    await r.idle('g');
    expect(r.state('g')?.records.length).toBe(records);
    expect((await r.getStatus('g')).runtimeStatus).toBe('Terminated');
  });

  it("host.json keeps startNew from replacing a running instance, and the engine refuses the same states", async () => {
    // The extension's only choices (azure-functions-durable-extension src/WebJobs.Extensions.DurableTask/
    // OverridableStates.cs): NonRunningStates, the default, refuses Running, Pending, ContinuedAsNew and
    // Suspended instances and replaces finished ones; AnyState refuses nothing, so it must never be set. No
    // setting refuses a finished instance: the app does not rely on startNew for that (docs/decisions.md).
    const host = JSON.parse(await readFile(new URL('../../host.json', import.meta.url), 'utf8')) as {
      extensions: { durableTask: { overridableExistingInstanceStates?: string } };
    };
    expect(host.extensions.durableTask.overridableExistingInstanceStates).toBe('NonRunningStates');
  });

  it('answers like the host: unknown ids throw, a running id cannot be started again, a finished one can', async () => {
    const r = runtime();
    await expect(r.getStatus('nope')).rejects.toThrow('replied with HTTP 404');
    await r.startNew('sample', { instanceId: 'd', input: { generation: 2, waitMs: 60_000 } });
    await until(r, 'd', 'Running');
    await expect(r.startNew('sample', { instanceId: 'd', input: { generation: 2, waitMs: 1 } })).rejects.toThrow('already');
    await r.raiseEvent('d', 'go', null);
    await until(r, 'd', 'Completed');
    await r.startNew('sample', { instanceId: 'd', input: { generation: 2, waitMs: 1 } });
    await until(r, 'd', 'Completed');
    await expect(r.startNew('sample', { instanceId: 'bad/id' })).rejects.toThrow('invalid instance id');
  });

  it('keeps state on disk, so a new runtime resumes a waiting instance where the old one stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-durable-'));
    dirs.push(dir);
    const first = runtime(dir);
    await first.startNew('sample', { instanceId: 'e', input: { generation: 2, waitMs: 300 } });
    await until(first, 'e', 'Running');
    await first.close();

    const second = runtime(dir);
    expect(await second.resume()).toBe(1);
    const status = await until(second, 'e', 'Completed');
    expect(status.output).toMatchObject({ doubled: 42, by: 'timer' });
  });

  // DurableTask.Core TaskOrchestrationDispatcher with CurrentOrOlder and Reject: an instance whose version
  // compares greater than the worker's (VersioningSettings.CompareVersions) is not run, its work item
  // abandoned and retried; a rollback leaves newer instances waiting for a worker that may run them.
  it('a worker older than an instance leaves it as it is, events included; a worker at its version runs it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-durable-'));
    dirs.push(dir);
    const newer = runtime(dir, '3.1');
    await newer.startNew('sample', { instanceId: 'f', input: { generation: 2, waitMs: 60_000 } });
    await until(newer, 'f', 'Running');
    await newer.close();

    const lines: string[] = [];
    const older = runtime(dir, '3.0', (line) => lines.push(line));
    expect(await older.resume()).toBe(0);
    expect(lines.join('\n')).toMatch(/instance f: version 3\.1 is newer than this worker's 3\.0/);
    await older.raiseEvent('f', 'go', { by: 'rolled back' });
    await older.idle('f');
    expect(older.state('f')?.records.some((r) => r.kind === 'event')).toBe(false);
    expect((await older.getStatus('f')).runtimeStatus).toBe('Running');
    await older.close();

    const again = runtime(dir, '3.1');
    expect(await again.resume()).toBe(1);
    await again.raiseEvent('f', 'go', { by: 'the newer worker' });
    expect((await until(again, 'f', 'Completed')).output).toMatchObject({ by: 'event', event: { by: 'the newer worker' } });
  });
});
