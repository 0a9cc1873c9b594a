/**
 * How a test (or the demo) chooses what happens to a pod on the local control plane, where kwok plays the
 * kubelet. Put these on the Job's pod template (`spec.template.metadata`). The stages behind them are kwok's
 * shipped ones (in the Go module cache) and ours in testenv/stages/; docs/test-control-plane.md has the table.
 *
 * Without any of them a Job's pod starts in 2-10 s (kwok's pod-create and pod-ready stages, 1-5 s each) and
 * succeeds 1-5 s later; a pod no Job owns runs until deleted.
 */

/** Annotation naming a fate our own kwok stages act on; the pod then waits for ever with that reason. */
export const FATE_ANNOTATION = 'aks-job-runner.test/fate';
export const FATES = {
  /** ErrImagePull, then ImagePullBackOff, and again, for ever. Images on a `.invalid` host do this unasked. */
  imagePullError: 'image-pull-error',
  /** InvalidImageName, for ever. Images with an upper-case letter in their repository path do this unasked. */
  invalidImageName: 'invalid-image-name',
  /** CreateContainerConfigError (a missing Secret or ConfigMap), for ever. */
  createContainerConfigError: 'create-container-config-error',
} as const;
export type Fate = (typeof FATES)[keyof typeof FATES];

/** An image whose registry host can never resolve (RFC 2606 reserves `.invalid`): ErrImagePull with no annotation. */
export const UNPULLABLE_IMAGE = 'registry.invalid/aks-job-runner/nope:1';

/**
 * The first container's termination message when the pod terminates (JSON here becomes the run's outputs).
 * Combined with FAIL_LABEL the pod fails with it.
 */
export const TERMINATION_MESSAGE_ANNOTATION = 'aks-job-runner.test/termination-message';

/**
 * kwok's shipped pod-complete stage: how long a Job's pod runs before it succeeds (a Go duration, e.g. "2s").
 * Mind kwok's rule for delays: with a jitter-delay at or below the delay the wait IS the jitter-delay, else it
 * is drawn between the two. This stage's jitter-delay defaults to 5 s, so a delay of "1h" alone means 5 s:
 * set COMPLETE_JITTER_ANNOTATION to the same value (succeeds() and the test helpers do).
 */
export const COMPLETE_DELAY_ANNOTATION = 'pod-complete.stage.kwok.x-k8s.io/delay';
/** See COMPLETE_DELAY_ANNOTATION. */
export const COMPLETE_JITTER_ANNOTATION = 'pod-complete.stage.kwok.x-k8s.io/jitter-delay';
/** "0" takes the pod-complete stage out of the draw, so a failing pod can never succeed by chance. */
export const COMPLETE_WEIGHT_ANNOTATION = 'pod-complete.stage.kwok.x-k8s.io/weight';

/** kwok's shipped chaos stage: a running pod with this label set to "true" fails... */
export const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';
/** ...with this exit code (default 1)... */
export const FAIL_EXIT_CODE_ANNOTATION = 'pod-container-running-failed.stage.kwok.x-k8s.io/exit-code';
/** ...this container status reason (kwok's default is "containerFailed"; the kubelet says "Error")... */
export const FAIL_REASON_ANNOTATION = 'pod-container-running-failed.stage.kwok.x-k8s.io/reason';
/** ...after this delay (default 1 s; the jitter-delay, default 1 s, caps it the way COMPLETE_DELAY_ANNOTATION says). */
export const FAIL_DELAY_ANNOTATION = 'pod-container-running-failed.stage.kwok.x-k8s.io/delay';
export const FAIL_JITTER_ANNOTATION = 'pod-container-running-failed.stage.kwok.x-k8s.io/jitter-delay';

/** A node selector no node of the local cluster satisfies: the real scheduler marks the pod Unschedulable. */
export const UNSCHEDULABLE_NODE_SELECTOR = { 'aks-job-runner.test/no-such-node': 'true' } as const;

/** What every pod's log reads on the local control plane (kwok serves one log file for every container). */
export const LOCAL_POD_LOG_LINES = [
  'aks-job-runner local cluster: this pod ran on a kwok node',
  'step 1 of 3: reading input',
  'step 2 of 3: working',
  'step 3 of 3: writing output',
  'the run finished its work',
] as const;

/** Labels and annotations for a pod template. */
export interface PodFate {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The pod goes from Pending to Running in about `delay` (kwok's pod-create and pod-ready stages, each). */
export function quickStart(delay = '100ms'): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const stage of ['pod-create', 'pod-ready']) {
    annotations[`${stage}.stage.kwok.x-k8s.io/delay`] = delay;
    annotations[`${stage}.stage.kwok.x-k8s.io/jitter-delay`] = delay;
  }
  return annotations;
}

/** A Job's pod that runs for `runFor` (exactly) and succeeds, optionally with a termination message. */
export function succeeds(options: { runFor?: string; terminationMessage?: string } = {}): PodFate {
  const runFor = options.runFor ?? '1s';
  return {
    labels: {},
    annotations: {
      ...quickStart(),
      [COMPLETE_DELAY_ANNOTATION]: runFor,
      [COMPLETE_JITTER_ANNOTATION]: runFor,
      ...(options.terminationMessage === undefined ? {} : { [TERMINATION_MESSAGE_ANNOTATION]: options.terminationMessage }),
    },
  };
}

/**
 * A pod that runs for `runFor` (exactly) and fails with `exitCode` and the container status reason `reason`
 * (Error, as the kubelet says; OOMKilled, with exit code 137, is what the runtime reports for a container killed
 * over its memory limit), optionally with a termination message.
 */
export function fails(options: { exitCode?: number; reason?: string; runFor?: string; terminationMessage?: string } = {}): PodFate {
  return {
    labels: { [FAIL_LABEL]: 'true' },
    annotations: {
      ...quickStart(),
      [FAIL_EXIT_CODE_ANNOTATION]: String(options.exitCode ?? 1),
      [FAIL_REASON_ANNOTATION]: options.reason ?? 'Error',
      [FAIL_DELAY_ANNOTATION]: options.runFor ?? '1s',
      [FAIL_JITTER_ANNOTATION]: options.runFor ?? '1s',
      [COMPLETE_WEIGHT_ANNOTATION]: '0',
      ...(options.terminationMessage === undefined ? {} : { [TERMINATION_MESSAGE_ANNOTATION]: options.terminationMessage }),
    },
  };
}

/** The fate our pod-evicted stage acts on: the kubelet's eviction under node pressure. */
export const EVICTED_FATE = 'evicted';
/** When the evicted fate strikes after the pod is Ready (a Go duration; 1 s by default). */
export const EVICT_AFTER_ANNOTATION = 'aks-job-runner.test/evict-after';

/**
 * A pod the kubelet evicts under node pressure once it has run for `after`: phase Failed, reason Evicted,
 * DisruptionTarget TerminationByKubelet, exit code 137, a Warning event Evicted (testenv/stages/pod-evicted.yaml).
 */
export function evicted(options: { after?: string } = {}): PodFate {
  const after = options.after ?? '1s';
  return {
    labels: {},
    annotations: {
      ...quickStart(),
      [FATE_ANNOTATION]: EVICTED_FATE,
      [EVICT_AFTER_ANNOTATION]: after,
      [COMPLETE_DELAY_ANNOTATION]: '1h',
      [COMPLETE_JITTER_ANNOTATION]: '1h',
      [COMPLETE_WEIGHT_ANNOTATION]: '0',
    },
  };
}

/** A pod that never starts, waiting with the fate's reason for ever. */
export function waits(fate: Fate): PodFate {
  return { labels: {}, annotations: { [FATE_ANNOTATION]: fate } };
}
