import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { errorResponse } from '../http/problem.js';
import { previewScheduleResponse } from '../http/schedules.js';

/** GET /api/schedules/preview?schedule=&timeZone=&from=&count=: a schedule's next times, in UTC and in its zone. */
export function previewSchedule(request: HttpRequest, context: InvocationContext): HttpResponseInit {
  try {
    return previewScheduleResponse(request, new Date());
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http('previewSchedule', {
  route: 'schedules/preview',
  methods: ['GET'],
  authLevel: 'function',
  handler: previewSchedule,
});
