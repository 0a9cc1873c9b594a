/**
 * The run path in-process for integration files, apart from helpers.ts: importing the app's function modules
 * registers them, and an end-to-end file that loads the whole app through the local host must import them
 * first itself, so it never imports this file.
 */
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { inject } from 'vitest';

import { orchestratorRunner } from '../../local/durable/engine.js';
import { LocalDurable } from '../../local/durable/runtime.js';
import { type Config, loadConfig } from '../../src/config.js';
import { archiveRun } from '../../src/functions/archiveRun.js';
import { attemptDelivery } from '../../src/functions/attemptDelivery.js';
import { deadLetterDelivery } from '../../src/functions/deadLetterDelivery.js';
import { deliverRunEvent } from '../../src/functions/deliverRunEvent.js';
import { jobRun } from '../../src/functions/jobRun.js';
import { notifyRun } from '../../src/functions/notifyRun.js';
import { observeRun } from '../../src/functions/observeRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { stopRun } from '../../src/functions/stopRun.js';
import { submitRun } from '../../src/functions/submitRun.js';

/**
 * The app's settings for a test file's namespace on the suite's control plane, with the run path's polls and
 * retries made fast; `settings` adds or overrides any.
 */
export function runPathConfig(namespace: string, settings: Record<string, string> = {}): Config {
  return loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [namespace] }]),
    POLL_INITIAL_SECONDS: '1',
    POLL_MAX_SECONDS: '2',
    ACTIVITY_RETRY_FIRST_SECONDS: '1',
    ...settings,
  });
}

/**
 * The jobRun orchestration and every activity it calls, run in-process as the local runtime runs them: from
 * orchestration 3.1 that includes notifyRun at the verdict (which binds a Durable client, as the local host binds
 * it) and the deliveries it starts. Without notifyRun a 3.1 run stays Running, retrying an activity that is not
 * there, after its verdict.
 */
export function localRunPath(): LocalDurable {
  const durable: LocalDurable = new LocalDurable({
    orchestrators: { jobRun: orchestratorRunner(jobRun), deliverRunEvent: orchestratorRunner(deliverRunEvent) },
    activities: { submitRun: (input, context) => submitRun(input, durable, context), observeRun, stopRun, archiveRun, notifyRun: (input, context) => notifyRun(input, durable, context), attemptDelivery, deadLetterDelivery },
  });
  return durable;
}

/** A key caller's POST /jobs/{namespace}/{name}/runs with a JSON body, through the exported start handler. */
export function startJob(durable: LocalDurable, namespace: string, name: string, body: unknown): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: `http://127.0.0.1:7071/api/jobs/${namespace}/${name}/runs`,
    params: { namespace, name },
    headers: { 'content-type': 'application/json' },
    body: { string: JSON.stringify(body) },
  });
  return startJobRun(request, durable, new InvocationContext({ functionName: 'startJobRun', invocationId: `start-${name}`, logHandler: () => undefined }));
}
