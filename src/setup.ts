import { app } from '@azure/functions';

import { startTelemetry } from './clients/telemetry.js';
import { services } from './services.js';

// Fail fast: a bad or missing setting stops the app at start-up with a message naming it.
const { config } = services();

// HTTP streaming: a followed log (GET /runs/{runId}/logs?follow=true) is written to the client as it is read.
// With it the worker serves requests through its own HTTP proxy (@azure/functions src/http/httpProxy.ts):
// request bodies come as streams (read with request.arrayBuffer(), src/http/problem.ts readJsonBody) and every
// response body is copied chunk by chunk (sendProxyResponse), whatever its kind. Needs host 4.28 or later.
app.setup({ enableHttpStream: true });

// OpenTelemetry before any function registers, so every invocation is traced and every log line exported;
// nothing is loaded or set up when no destination is configured (src/clients/telemetry.ts).
await startTelemetry(config.telemetry, {
  // Application Insights with Entra ID: the identity the host's authentication string names (infra: the app's
  // user-assigned identity), else the app's own (AZURE_CLIENT_ID).
  credential: async (clientId) => {
    const { DefaultAzureCredential } = await import('@azure/identity');
    const managedIdentityClientId = clientId ?? config.managedIdentityClientId;
    return new DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : {});
  },
  functions: app,
});
