/**
 * How a test (or the demo) chooses what happens to a pod on the local control plane, where kwok plays the
 * kubelet. Put these on the Job's pod template. See testenv/stages/ and docs/test-control-plane.md.
 */

/** Annotation naming a fate our own kwok stages act on. */
export const FATE_ANNOTATION = 'aks-job-runner.test/fate';
export const FATES = {
  /** The container waits in ErrImagePull, then ImagePullBackOff, for ever. Images on a `.invalid` host do too. */
  imagePullError: 'image-pull-error',
  /** The container waits in CreateContainerConfigError for ever (a missing Secret or ConfigMap). */
  createContainerConfigError: 'create-container-config-error',
} as const;

/** The first container's termination message when the pod completes (JSON here becomes the run's outputs). */
export const TERMINATION_MESSAGE_ANNOTATION = 'aks-job-runner.test/termination-message';

/** kwok's shipped pod-complete stage: how long a Job's pod runs before it succeeds (a Go duration, e.g. "2s", "1h"). */
export const COMPLETE_DELAY_ANNOTATION = 'pod-complete.stage.kwok.x-k8s.io/delay';
export const COMPLETE_JITTER_ANNOTATION = 'pod-complete.stage.kwok.x-k8s.io/jitter-delay';

/** kwok's shipped chaos stage: a pod with this label set to "true" fails once it runs... */
export const FAIL_LABEL = 'pod-container-running-failed.stage.kwok.x-k8s.io';
/** ...with this exit code. */
export const FAIL_EXIT_CODE_ANNOTATION = 'pod-container-running-failed.stage.kwok.x-k8s.io/exit-code';
export const FAIL_DELAY_ANNOTATION = 'pod-container-running-failed.stage.kwok.x-k8s.io/delay';

/** A node selector no node of the local cluster satisfies: the real scheduler marks the pod Unschedulable. */
export const UNSCHEDULABLE_NODE_SELECTOR = { 'aks-job-runner.test/no-such-node': 'true' } as const;

/** What every log line of every pod reads on the local control plane (kwok serves one log file). */
export const LOCAL_POD_LOG_LINES = ['aks-job-runner local cluster: this pod ran on a kwok node', 'the run finished its work'] as const;
