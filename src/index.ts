// The app: every function registers when this module is loaded (the Functions worker loads it through
// src/main.ts). `./setup.js` comes first, and ES modules are evaluated in the order they are imported, so the
// settings are checked and app.setup is called before any function module registers. Static imports, so that
// the deployment bundle holds them in its main file; only the heavy clients are loaded lazily (src/clients/lazy.ts).
import './setup.js';
import './functions/startJobRun.js';
import './functions/startCronJobRun.js';
import './functions/getRun.js';
import './functions/cancelRun.js';
import './functions/rerunRun.js';
import './functions/listJobs.js';
import './functions/listCronJobs.js';
import './functions/getRunLogs.js';
import './functions/listCronJobRuns.js';
import './functions/listRuns.js';
import './functions/jobRun.js';
import './functions/submitRun.js';
import './functions/observeRun.js';
import './functions/stopRun.js';
import './functions/listDeployments.js';
import './functions/createCronJob.js';
import './functions/getCronJob.js';
import './functions/updateCronJob.js';
import './functions/deleteCronJob.js';
import './functions/scheduler.js';
import './functions/previewSchedule.js';
import './functions/archiveRun.js';
import './functions/archiveSweep.js';
import './functions/listClusters.js';
import './functions/listAuditRecords.js';
import './functions/serveConsole.js';
import './functions/getOpenApiDocument.js';
import './functions/getSwaggerDocument.js';
import './functions/createRunSubscription.js';
import './functions/getRunSubscription.js';
import './functions/deleteRunSubscription.js';
import './functions/unsubscribeCallback.js';
import './functions/createSourceSubscription.js';
import './functions/deleteSourceSubscription.js';
import './functions/notifyRun.js';
import './functions/deliverRunEvent.js';
import './functions/attemptDelivery.js';
import './functions/deadLetterDelivery.js';
