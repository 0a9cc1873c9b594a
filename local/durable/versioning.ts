/**
 * Orchestration versions as the host compares them. DurableTask.Core's TaskOrchestrationDispatcher, with
 * host.json's `versionMatchStrategy: CurrentOrOlder`, refuses an instance when
 * `VersioningSettings.CompareVersions(instanceVersion, workerVersion) > 0`; with `versionFailureStrategy:
 * Reject` it abandons the work item, which is retried later, for ever while no newer worker comes
 * (Azure/durabletask, src/DurableTask.Core/Settings/VersioningSettings.cs and TaskOrchestrationDispatcher.cs).
 * A port of that comparison, for the local engine and for the test that checks every golden version.
 */

const INT32_MAX = 2_147_483_647;

/**
 * System.Version.TryParse: two to four parts separated by dots, each an Int32 as int.TryParse reads it with
 * NumberStyles.Integer (white space around it and a sign allowed) and not negative. Undefined when it fails,
 * so a one-part version such as "2" or "10" does not parse.
 */
export function parseDotNetVersion(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    const match = /^[\t\n\v\f\r ]*([+-]?)(\d+)[\t\n\v\f\r ]*$/.exec(part);
    if (!match) return undefined;
    const value = Number(match[2]) * (match[1] === '-' ? -1 : 1);
    if (!Number.isSafeInteger(value) || value > INT32_MAX || value < 0) return undefined;
    numbers.push(value === 0 ? 0 : value);
  }
  return numbers;
}

/** System.Version.CompareTo: major, minor, then build and revision, where an absent one (-1) is less than any. */
function compareParsed(a: number[], b: number[]): number {
  for (let i = 0; i < 4; i++) {
    const x = a[i] ?? -1;
    const y = b[i] ?? -1;
    if (x !== y) return x > y ? 1 : -1;
  }
  return 0;
}

/** string.Compare(a, b, StringComparison.OrdinalIgnoreCase), as a sign. */
function compareOrdinalIgnoreCase(a: string, b: string): number {
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  if (x === y) return 0;
  return x < y ? -1 : 1;
}

const blank = (text: string | undefined) => text === undefined || text.trim() === '';

/**
 * VersioningSettings.CompareVersions: empty equals empty and is less than any version; two versions that
 * both parse as System.Version compare as such; anything else compares as ordinal strings, ignoring case.
 * The sign is what matters: negative, zero or positive.
 */
export function compareVersions(source: string | undefined, other: string | undefined): number {
  if (blank(source) && blank(other)) return 0;
  if (blank(source)) return -1;
  if (blank(other)) return 1;
  const a = parseDotNetVersion(source ?? '');
  const b = parseDotNetVersion(other ?? '');
  if (a && b) return compareParsed(a, b);
  return compareOrdinalIgnoreCase(source ?? '', other ?? '');
}

/** CurrentOrOlder: a worker at `worker` runs an instance of `instance` only when it is not newer. */
export function workerRuns(instance: string | undefined, worker: string | undefined): boolean {
  return compareVersions(instance, worker) <= 0;
}
