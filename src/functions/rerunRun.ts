import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { parseEnvOverrides } from '../core/clone.js';
import { BadRequestError } from '../core/errors.js';
import { audited } from '../http/audit.js';
import { authorizeRunAccess, callerOf } from '../http/caller.js';
import { errorResponse, readJsonBody } from '../http/problem.js';
import { acceptedResponse, requireRun, type RunClient, runInstancesOf } from '../http/runs.js';
import { rerunRun as rerun } from '../runs/rerun.js';
import { services } from '../services.js';

/**
 * POST /api/runs/{runId}/rerun: run a run again, with the body's env overrides (optional, as the start routes
 * take them) merged over the original's. 202 with the new run's links, as a start answers.
 */
export const rerunRun = audited('rerunRun', async function rerunRun(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, clusters, newSuffix } = services();
    const runId = request.params.runId ?? '';
    const caller = callerOf(request, config.callers);
    const overrides = parseEnvOverrides(await readJsonBody(request));
    const idempotencyKey = request.headers.get('Idempotency-Key') ?? undefined;
    if (idempotencyKey?.trim() === '') throw new BadRequestError('the Idempotency-Key header must not be empty');
    const instance = await requireRun(client, runId);
    // Only a run the caller may read can be run again by it (an Entra caller's runs are its own).
    authorizeRunAccess(request, config.callers, runId, instance.input);
    const started = await rerun(
      { of: runId, record: instance.input, caller, overrides, idempotencyKey, startedBy: context.invocationId },
      { config, clusters, newSuffix, runs: runInstancesOf(client), log: (line) => { context.log(line); }, invocation: context },
    );
    context.log(`run ${started.runId}: rerun of ${runId}`);
    return acceptedResponse(request, started.runId, clusters.monitorUrl(started.cluster), config.statusRetryAfterSeconds);
  } catch (err) {
    return errorResponse(err, context);
  }
});

client.http('rerunRun', {
  route: 'runs/{runId}/rerun',
  methods: ['POST'],
  authLevel: 'function',
  handler: rerunRun,
});
