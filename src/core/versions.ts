/**
 * Orchestration versions as the orchestrator branches on them. The host stamps host.json's `defaultVersion` on
 * each new instance; instances from before versioning have none and are version 1. Versions are dotted
 * ("3.0") from 3.0 on, because the host compares two versions as System.Version only when both parse as one
 * (docs/decisions.md, "Orchestration versions compare as the host compares them"); "1" and "2" are the ones
 * that shipped before.
 */

/** The numeric parts of a version: "3.0" is [3, 0], "2" is [2], none is [1]. A part that is not a number is 0. */
export function versionParts(version: string | undefined): number[] {
  const text = version?.trim() ?? '';
  if (text === '') return [1];
  return text.split('.').map((part) => {
    const n = Number.parseInt(part, 10);
    return Number.isInteger(n) && n >= 0 ? n : 0;
  });
}

/** Whether an instance of `version` was created by code at `floor` or later: "3.0" ≥ "3", "2" < "3.0". */
export function versionAtLeast(version: string | undefined, floor: string): boolean {
  const a = versionParts(version);
  const b = versionParts(floor);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
