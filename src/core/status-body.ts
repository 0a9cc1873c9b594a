import { isTerminal, type RunSnapshot } from './run.js';

/** Durable's vocabulary, for clients written against its check-status payload. */
export type DurableRuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';

export function durableStatusOf(snapshot: RunSnapshot): DurableRuntimeStatus {
  switch (snapshot.status) {
    case 'Success':
      return 'Completed';
    case 'Failed':
      return 'Failed';
    case 'Cancelled':
      return 'Terminated';
    case 'Starting':
      return 'Pending';
    default:
      return 'Running';
  }
}

/**
 * The JSON a run's status answers with, and what a pushed verdict carries (issue 23: one snapshot everywhere): the
 * snapshot, its links, Durable's `runtimeStatus` and `output`, and a successful run's outputs also as top-level
 * properties where no snapshot field has the name, since Polysync maps output parameters from top-level properties.
 */
export function statusBody(snapshot: RunSnapshot, links: { statusUrl: string; cancelUrl: string }): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ...snapshot,
    ...links,
    runtimeStatus: durableStatusOf(snapshot),
    output: isTerminal(snapshot.status) ? snapshot.outputs : null,
  };
  if (snapshot.status === 'Success') {
    for (const [name, value] of Object.entries(snapshot.outputs)) if (!(name in body)) body[name] = value;
  }
  return body;
}
