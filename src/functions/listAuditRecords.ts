import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { auditPage } from '../http/audit.js';

/** GET /api/audit?date=&limit=&continue=: a day's audit records, a page at a time, for admins. */
export function listAuditRecords(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return auditPage(request, context);
}

app.http('listAuditRecords', {
  route: 'audit',
  methods: ['GET'],
  authLevel: 'function',
  handler: listAuditRecords,
});
