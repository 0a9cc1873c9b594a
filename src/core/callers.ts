import type { CallerPolicy, CallerSettings } from '../config.js';
import { ForbiddenError } from './errors.js';
import type { StartedBy } from './run.js';

/** What CALLER_POLICIES calls function-key callers. */
export const KEY_CALLER = 'key';

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

