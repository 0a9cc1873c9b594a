import type { V1Job } from '@kubernetes/client-node';

import type { CallerPolicy, CallerSettings } from '../config.js';
import { jobStarter, type RunEntry, starterOf } from './archive.js';
import { ForbiddenError } from './errors.js';
import type { StartedBy } from './run.js';

/** What CALLER_POLICIES calls function-key callers. */
export const KEY_CALLER = 'key';
/** The app role (in the token's `roles` claim) that may read and cancel every caller's runs. */
export const ADMIN_ROLE = 'AksJobRunner.Admin';

export type Caller =
  /** Authenticated by the Functions host with a function key; `keyScope` is a hash of the key, never the key. */
  | { kind: 'key'; keyScope: string }
  /** Authenticated by Easy Auth with a Microsoft Entra token. */
  | { kind: 'entra'; appId: string; objectId: string; roles: readonly string[] };

/** What the run records about its starter: kind and ids, never the key or its hash. */
export function startedByOf(caller: Caller): StartedBy {
  return caller.kind === 'key' ? { kind: 'key' } : { kind: 'entra', appId: caller.appId, objectId: caller.objectId };
}

/** The part of a run id's hash that makes idempotency keys the caller's own; empty for a call without any key. */
export function callerScope(caller: Caller): string {
  if (caller.kind === 'key') return caller.keyScope === '' ? '' : `key:${caller.keyScope}`;
  return `entra:${caller.appId}:${caller.objectId}`;
}

export function policyOf(caller: Caller, settings: CallerSettings): CallerPolicy {
  return settings.policies[caller.kind === 'key' ? KEY_CALLER : caller.appId] ?? {};
}

function describeCaller(caller: Caller): string {
  return caller.kind === 'key' ? 'function-key callers' : `application ${caller.appId}`;
}

/** True when the caller's policy lets it use this cluster and namespace (the app's allow-lists are checked apart). */
export function mayTarget(caller: Caller, settings: CallerSettings, target: { cluster: string; namespace: string }): boolean {
  const policy = policyOf(caller, settings);
  return (!policy.clusters || policy.clusters.includes(target.cluster)) && (!policy.namespaces || policy.namespaces.includes(target.namespace));
}

/** The caller's own limits on where it may look or run, on top of the app's allow-lists. */
export function authorizeTarget(caller: Caller, settings: CallerSettings, target: { cluster: string; namespace: string }): void {
  const policy = policyOf(caller, settings);
  const who = describeCaller(caller);
  if (policy.clusters && !policy.clusters.includes(target.cluster)) {
    throw new ForbiddenError(`cluster "${target.cluster}" is not allowed for ${who}; an operator allows it in the CALLER_POLICIES app setting`);
  }
  if (policy.namespaces && !policy.namespaces.includes(target.namespace)) {
    throw new ForbiddenError(`namespace "${target.namespace}" is not allowed for ${who}; an operator allows it in the CALLER_POLICIES app setting`);
  }
}

/** The caller's own limits on a start: clusters, namespaces, fallback runs. */
export function authorizeStart(caller: Caller, settings: CallerSettings, target: { cluster: string; namespace: string; fallback: boolean }): void {
  authorizeTarget(caller, settings, target);
  const who = describeCaller(caller);
  if (target.fallback && policyOf(caller, settings).fallback === false) {
    throw new ForbiddenError(`runs from an image are not allowed for ${who}; run an existing Job, or an operator sets "fallback": true in the CALLER_POLICIES app setting`);
  }
}


/**
 * A run answers only whoever could have started it: an Entra caller sees its own runs (same object id) and an admin
 * every run; function-key callers see the runs of function-key callers. A run no caller started (`null`: the app
 * scheduler's, the cluster's, kubectl's) is anyone's who may use its namespace.
 */
export function mayAccessRun(caller: Caller, starter: StartedBy | null): boolean {
  if (starter === null) return true;
  if (caller.kind === 'entra' && caller.roles.includes(ADMIN_ROLE)) return true;
  return caller.kind === 'key' ? starter.kind === 'key' : starter.kind === 'entra' && starter.appId === caller.appId && starter.objectId === caller.objectId;
}

/** Which of a CronJob's Jobs the caller may see and replace (see mayAccessRun and core/archive's jobStarter). */
export function jobVisibleTo(caller: Caller): (job: V1Job) => boolean {
  return (job) => mayAccessRun(caller, jobStarter(job));
}

/** Which listed runs (live or archived) the caller may see. */
export function entryVisibleTo(caller: Caller): (entry: Pick<RunEntry, 'trigger' | 'caller'>) => boolean {
  return (entry) => mayAccessRun(caller, starterOf(entry.trigger, entry.caller));
}
