import { app } from '@azure/functions';

import { services } from './services.js';

// Fail fast: a bad or missing setting stops the app at start-up with a message naming it.
services();

app.setup({ enableHttpStream: false });

await import('./functions/startJobRun.js');
await import('./functions/startCronJobRun.js');
await import('./functions/getRun.js');
await import('./functions/cancelRun.js');
await import('./functions/listJobs.js');
await import('./functions/listCronJobs.js');
await import('./functions/getRunLogs.js');
await import('./functions/listCronJobRuns.js');
await import('./functions/jobRun.js');
await import('./functions/submitRun.js');
await import('./functions/observeRun.js');
await import('./functions/stopRun.js');
await import('./functions/listDeployments.js');
await import('./functions/createCronJob.js');
await import('./functions/getCronJob.js');
await import('./functions/updateCronJob.js');
await import('./functions/deleteCronJob.js');
await import('./functions/scheduler.js');
await import('./functions/previewSchedule.js');
await import('./functions/archiveRun.js');
await import('./functions/archiveSweep.js');
await import('./functions/listClusters.js');
await import('./functions/serveConsole.js');
await import('./functions/getOpenApiDocument.js');
await import('./functions/getSwaggerDocument.js');
