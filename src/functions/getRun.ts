import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { NotFoundError } from '../core/errors.js';
import { isRunId } from '../core/naming.js';
import { errorResponse } from '../http/problem.js';
import { findRun, type RunClient, runStatusResponse, snapshotFromInstance } from '../http/runs.js';
import { services } from '../services.js';

/** GET /api/runs/{runId}: the run's latest snapshot; 202 while it runs, 200 on success, 424 otherwise. */
export async function getRun(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runId = request.params.runId ?? '';
    const instance = isRunId(runId) ? await findRun(client, runId) : undefined;
    if (!instance) throw new NotFoundError(`no run with id "${runId}"; run ids are returned by the start routes`);
    return runStatusResponse(request, snapshotFromInstance(instance), services().config.statusRetryAfterSeconds);
  } catch (err) {
    return errorResponse(err, context);
  }
}

df.app.client.http('getRun', {
  route: 'runs/{runId}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getRun,
});
