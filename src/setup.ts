import { app } from '@azure/functions';

import { services } from './services.js';

// Fail fast: a bad or missing setting stops the app at start-up with a message naming it.
services();

// HTTP streaming: a followed log (GET /runs/{runId}/logs?follow=true) is written to the client as it is read.
// With it the worker serves requests through its own HTTP proxy (@azure/functions src/http/httpProxy.ts):
// request bodies come as streams (read with request.arrayBuffer(), src/http/problem.ts readJsonBody) and every
// response body is copied chunk by chunk (sendProxyResponse), whatever its kind. Needs host 4.28 or later.
app.setup({ enableHttpStream: true });
