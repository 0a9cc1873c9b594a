import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { compareVersions, parseDotNetVersion, workerRuns } from '../../local/durable/versioning.js';
import { versionAtLeast } from '../../src/core/versions.js';
import { ORCHESTRATOR_VERSION } from '../../src/functions/names.js';
import type { GoldenHistory } from './golden/scenarios.js';

/**
 * The host decides which instances a worker runs by comparing versions: with host.json's
 * `versionMatchStrategy: CurrentOrOlder` and `versionFailureStrategy: Reject`, DurableTask.Core's
 * TaskOrchestrationDispatcher abandons (and retries for ever) every instance for which
 * `VersioningSettings.CompareVersions(instanceVersion, workerVersion) > 0`. CompareVersions
 * (Azure/durabletask, src/DurableTask.Core/Settings/VersioningSettings.cs): blank equals blank and is less than
 * anything; two versions that both parse with System.Version.TryParse compare as System.Version; otherwise
 * string.Compare(..., StringComparison.OrdinalIgnoreCase). System.Version.TryParse takes 2 to 4 dot-separated
 * non-negative Int32 parts (the .NET documentation's own examples: "4.0" parses, "4.0." and "1.1.2.0702.119"
 * and "1.3.5.2150000000" do not), so a one-part "2" or "10" falls back to comparing strings.
 * local/durable/versioning.ts is the port; this checks it, and every golden version against the current one.
 */
describe('orchestration versions compare as the host compares them', () => {
  it.each([
    ['4.0', [4, 0]],
    ['1.1.2', [1, 1, 2]],
    ['1.1.2.01702', [1, 1, 2, 1702]],
    [' 3 . 0 ', [3, 0]],
    ['4.0.', undefined],
    ['1.1.2.0702.119', undefined],
    ['1.3.5.2150000000', undefined],
    ['2', undefined],
    ['10', undefined],
    ['3.-1', undefined],
    ['v3.0', undefined],
  ] as const)('System.Version.TryParse(%j) is %j', (text, parts) => {
    expect(parseDotNetVersion(text)).toEqual(parts);
  });

  it.each([
    [undefined, undefined, 0],
    ['', '3.0', -1],
    ['3.0', '', 1],
    ['2', '3.0', -1],
    ['3.0', '3.0', 0],
    ['3.0', '3.0.0', -1], // an absent build is less than any
    ['3.1', '3.0', 1],
    ['10.0', '9.0', 1], // as numbers
    ['10', '9', -1], // as strings: "1" < "9"
    ['2', '10', 1], // the trap issue 20 found: "2" is newer than "10"
    ['2', '10.0', 1], // one side does not parse: strings again
    ['abc', 'ABC', 0], // ordinal, ignoring case
  ] as const)('CompareVersions(%j, %j) has the sign of %i', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });

  it('the current version is dotted: it parses as System.Version, so the next bumps compare as numbers', () => {
    expect(parseDotNetVersion(ORCHESTRATOR_VERSION)).toBeDefined();
    const host = JSON.parse(readFileSync(join(import.meta.dirname, '../../host.json'), 'utf8')) as { extensions: { durableTask: { defaultVersion: string } } };
    expect(host.extensions.durableTask.defaultVersion).toBe(ORCHESTRATOR_VERSION);
  });

  const GOLDEN_DIR = join(import.meta.dirname, 'golden');
  const versions = readdirSync(GOLDEN_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith('v'))
    .map((d) => {
      const file = readdirSync(join(GOLDEN_DIR, d.name)).find((f) => f.endsWith('.json'));
      if (!file) throw new Error(`golden/${d.name} has no history`);
      const golden = JSON.parse(readFileSync(join(GOLDEN_DIR, d.name, file), 'utf8')) as GoldenHistory;
      return [d.name, golden.version] as const;
    });

  it('every orchestration version that shipped has goldens', () => {
    expect(versions.map(([dir]) => dir)).toEqual(expect.arrayContaining(['v1', 'v2', `v${ORCHESTRATOR_VERSION}`]));
  });

  it.each(versions)('instances of golden/%s (version %j) run on a worker at the current version', (dir, version) => {
    expect(dir).toBe(`v${version ?? '1'}`);
    expect(workerRuns(version, ORCHESTRATOR_VERSION)).toBe(true);
  });

  it.each(versions)('golden/%s (version %j): the orchestrator orders versions as the host does', (_, version) => {
    for (const [, other] of versions) {
      // versionAtLeast (what jobRun branches on) agrees with the host's order over every pair that shipped.
      expect(versionAtLeast(version, other ?? '1')).toBe(compareVersions(version, other) >= 0);
    }
  });

  it('the check would catch a one-part bump: a worker at "10" refuses version 2 instances', () => {
    expect(workerRuns('2', '10')).toBe(false);
  });
});
