import type { V1CronJob, V1Deployment, V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { GracePeriods } from '../../src/config.js';
import { RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import { cronJobDetail, type CronJobRun, jobsByCronJob, runOfJob, runsOf, runsSummary, schedulePreview, summarizeDeployment } from '../../src/core/cronjob-view.js';
import {
  CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  RUN_ID_LABEL,
  SCHEDULER_LABEL,
  SOURCE_DEPLOYMENT_ANNOTATION,
} from '../../src/core/labels.js';
import { ScheduleError } from '../../src/core/schedule.js';

const now = new Date('2026-11-23T10:00:30Z');
const grace: GracePeriods = { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 };
const UID = 'cj-uid';

function cronJob(status: V1CronJob['status'] = {}, extra: Partial<V1CronJob['metadata']> = {}): V1CronJob {
  return {
    metadata: { name: 'report', namespace: 'batch', uid: UID, resourceVersion: '42', creationTimestamp: new Date('2026-11-01T00:00:00Z'), ...extra },
    spec: {
      schedule: '0 * * * *',
      timeZone: 'Europe/Amsterdam',
      concurrencyPolicy: 'Forbid',
      jobTemplate: { spec: { backoffLimit: 2, template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: 'report:1', env: [{ name: 'A', value: '1' }, { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }] } } } },
    },
    status,
  };
}

type Outcome = 'Complete' | 'Failed' | 'running';
function job(name: string, start: string, outcome: Outcome, o: { owner?: string; scheduled?: boolean; ours?: boolean } = {}): V1Job {
  const conditions =
    outcome === 'running'
      ? []
      : outcome === 'Complete'
        ? [{ type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached' }, { type: 'Complete', status: 'True', reason: 'CompletionsReached' }]
        : [{ type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }];
  return {
    metadata: {
      name,
      namespace: 'batch',
      creationTimestamp: new Date(start),
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: o.owner ?? UID, controller: true }],
      ...(o.scheduled === false ? {} : { annotations: { [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: start } }),
      ...(o.ours ? { labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } } : {}),
    },
    spec: { template: { spec: { containers: [] } } },
    status: { startTime: new Date(start), active: outcome === 'running' ? 1 : 0, conditions },
  };
}

const run = (j: V1Job): CronJobRun => runOfJob(j, 'report', 'dev', grace, now);

describe('the runs of a CronJob', () => {
  it("an app run's retry Job (<runId>-2) is listed as its run, by the run id label", () => {
    const retry = job('report-29923598-2', '2026-11-23T09:00:00Z', 'running', { ours: true });
    retry.metadata = { ...retry.metadata, labels: { ...retry.metadata?.labels, [RUN_ID_LABEL]: 'report-29923598' } };
    expect(run(retry)).toMatchObject({ runId: 'report-29923598', status: 'Running' });
    // Not the app's: its own name, whatever its labels say.
    const theirs = job('report-29923599', '2026-11-23T09:00:00Z', 'running');
    theirs.metadata = { ...theirs.metadata, labels: { [RUN_ID_LABEL]: 'something-else' } };
    expect(run(theirs).runId).toBe('report-29923599');
  });

  it('are the Jobs it controls, not those of another CronJob or none', () => {
    const mine = job('report-1', '2026-11-23T09:00:00Z', 'Complete');
    const other = job('report-2', '2026-11-23T09:00:00Z', 'Complete', { owner: 'other-uid' });
    const loose: V1Job = { metadata: { name: 'loose' }, spec: { template: { spec: { containers: [] } } } };
    expect(runsOf(cronJob(), jobsByCronJob([mine, other, loose]), 'dev', grace, now).map((r) => r.runId)).toEqual(['report-1']);
  });

  it.each<{ name: string; job: V1Job; expected: Partial<CronJobRun> }>([
    { name: 'a completed run of the cluster', job: job('report-1', '2026-11-23T09:00:00Z', 'Complete'), expected: { status: 'Success', reason: 'CompletionsReached', trigger: 'cluster' } },
    { name: 'a failed run', job: job('report-2', '2026-11-23T09:00:00Z', 'Failed'), expected: { status: 'Failed', reason: 'BackoffLimitExceeded' } },
    { name: 'a running run', job: job('report-3', '2026-11-23T10:00:00Z', 'running'), expected: { status: 'Running' } },
    { name: "a run of the app's scheduler", job: job('report-4', '2026-11-23T09:00:00Z', 'Complete', { ours: true }), expected: { trigger: 'schedule' } },
    { name: 'a run started over HTTP', job: job('report-5', '2026-11-23T09:00:00Z', 'Complete', { ours: true, scheduled: false }), expected: { trigger: 'http', scheduledTime: null } },
    { name: 'a run made by hand (kubectl create job --from)', job: job('report-6', '2026-11-23T09:00:00Z', 'Complete', { scheduled: false }), expected: { trigger: 'manual' } },
  ])('$name', ({ job: j, expected }) => {
    expect(run(j)).toMatchObject(expected);
  });

  it('are grouped once for a whole listing, by the CronJob that controls them', () => {
    const jobs = [job('report-1', '2026-11-23T09:00:00Z', 'Complete'), job('other-1', '2026-11-23T09:00:00Z', 'Complete', { owner: 'other-uid' }), job('report-2', '2026-11-23T10:00:00Z', 'running')];
    const grouped = jobsByCronJob(jobs);
    expect([...grouped.keys()].sort()).toEqual([UID, 'other-uid']);
    expect(grouped.get(UID)?.map((j) => j.metadata?.name)).toEqual(['report-1', 'report-2']);
  });
});

describe('runsSummary', () => {
  const runs = [job('report-a', '2026-11-23T08:00:00Z', 'Complete'), job('report-b', '2026-11-23T09:00:00Z', 'Failed')].map(run);

  it('takes the last run and its result from the newest Job', () => {
    expect(runsSummary(cronJob({ lastScheduleTime: new Date('2026-11-23T09:00:00Z') }), runs).lastRun).toEqual({
      time: '2026-11-23T09:00:00.000Z',
      result: 'Failed',
      runId: 'report-b',
    });
  });

  it('lists the active runs from status.active', () => {
    expect(runsSummary(cronJob({ active: [{ name: 'report-c', kind: 'Job' }] }), []).activeRuns).toEqual(['report-c']);
  });

  it.each([
    {
      name: 'a pruned successful run: Success from lastSuccessfulTime, named as the controller names it',
      status: { lastScheduleTime: new Date('2026-11-23T10:00:00Z'), lastSuccessfulTime: new Date('2026-11-23T10:00:05Z') },
      expected: { time: '2026-11-23T10:00:00.000Z', result: 'Success', runId: `report-${Date.parse('2026-11-23T10:00:00Z') / 60000}` },
    },
    {
      name: 'a pruned run that did not succeed: Unknown',
      status: { lastScheduleTime: new Date('2026-11-23T10:00:00Z'), lastSuccessfulTime: new Date('2026-11-23T09:00:05Z') },
      expected: { time: '2026-11-23T10:00:00.000Z', result: 'Unknown' },
    },
  ])('without its Job, $name', ({ status, expected }) => {
    expect(runsSummary(cronJob(status), runs).lastRun).toMatchObject(expected);
  });

  it('is empty for a CronJob that never ran', () => {
    expect(runsSummary(cronJob(), [])).toEqual({ lastRun: null, activeRuns: [] });
  });
});

describe('schedulePreview', () => {
  it('gives the next runs in UTC and in the zone, and the schedule in words', () => {
    const preview = schedulePreview('30 2 * * *', 'Europe/Amsterdam', now, 2);
    expect(preview.nextRuns).toEqual([
      { utc: '2026-11-24T01:30:00.000Z', local: '2026-11-24T02:30:00+01:00' },
      { utc: '2026-11-25T01:30:00.000Z', local: '2026-11-25T02:30:00+01:00' },
    ]);
    expect(preview.description).toContain('02:30');
    expect(preview.timeZone).toBe('Europe/Amsterdam');
  });

  it('refuses an invalid schedule with a ScheduleError', () => {
    expect(() => schedulePreview('* * *', null, now, 1)).toThrow(ScheduleError);
  });
});

describe('cronJobDetail', () => {
  it('tells settings, status, scheduler, source, five next runs and the latest runs newest first', () => {
    const source = cronJob({ lastScheduleTime: new Date('2026-11-23T09:00:00Z') }, { annotations: { [SOURCE_DEPLOYMENT_ANNOTATION]: 'web' } });
    const detail = cronJobDetail(source, [job('report-a', '2026-11-23T08:00:00Z', 'Complete'), job('report-b', '2026-11-23T09:00:00Z', 'Complete')].map(run), 'dev', now);
    expect(detail).toMatchObject({
      name: 'report',
      namespace: 'batch',
      cluster: 'dev',
      resourceVersion: '42',
      scheduler: 'cluster',
      source: { deployment: 'web' },
      settings: {
        schedule: '0 * * * *',
        timeZone: 'Europe/Amsterdam',
        suspend: false,
        concurrencyPolicy: 'Forbid',
        backoffLimit: 2,
        restartPolicy: 'OnFailure',
        containers: [{ name: 'main', image: 'report:1', env: { A: '1' }, referencedEnv: ['S'] }],
      },
      lastRun: { runId: 'report-b', result: 'Success' },
      warnings: [],
    });
    expect(detail.preview?.nextRuns).toHaveLength(5);
    expect(detail.latestRuns.map((r) => r.runId)).toEqual(['report-b', 'report-a']);
  });

  it('shows a stored $$ as the $ the process gets (what a PATCH sends back for no change), and the $(NAME)-substituted names', () => {
    const source = cronJob();
    const main = source.spec.jobTemplate.spec?.template.spec?.containers[0];
    if (main) Object.assign(main, { command: ['sh', '-c', 'echo $(A)'], env: [{ name: 'A', value: '1' }, { name: 'GREETING', value: '$$(DB_PASSWORD)' }] });
    const [container] = cronJobDetail(source, [], 'dev', now).settings.containers;
    expect(container?.env).toEqual({ A: '1', GREETING: '$(DB_PASSWORD)' });
    expect(container?.commandEnv).toEqual(['A']);
  });

  it('warns about a schedule that cannot be used instead of failing', () => {
    const broken = cronJob();
    broken.spec.schedule = 'every hour';
    const detail = cronJobDetail(broken, [], 'dev', now);
    expect(detail.preview).toBeNull();
    expect(detail.warnings[0]).toContain('the schedule cannot be used');
  });

  it('warns about a CronJob labelled for the app that is not suspended', () => {
    expect(cronJobDetail(cronJob({}, { labels: { [SCHEDULER_LABEL]: 'app' } }), [], 'dev', now).warnings).toEqual([
      'labelled for the app scheduler but not suspended: the app does not fire it, the cluster does; hand it over again to suspend it',
    ]);
  });
});

describe('summarizeDeployment', () => {
  it('lists its containers, images and env names, values never', () => {
    const deployment: V1Deployment = {
      metadata: { name: 'web', namespace: 'batch', creationTimestamp: new Date('2026-11-01T00:00:00Z') },
      spec: {
        replicas: 3,
        selector: {},
        template: { spec: { containers: [{ name: 'web', image: 'web:1', env: [{ name: 'MODE', value: 'secret-ish' }, { name: 'DB', valueFrom: { secretKeyRef: { name: 'db', key: 'p' } } }] }] } },
      },
    };
    expect(summarizeDeployment(deployment, 'dev', false)).toEqual({
      name: 'web',
      namespace: 'batch',
      cluster: 'dev',
      replicas: 3,
      containers: [{ name: 'web', image: 'web:1', env: ['MODE'], referencedEnv: ['DB'], commandEnv: [] }],
      createdAt: '2026-11-01T00:00:00.000Z',
      runnable: true,
      notRunnableReason: null,
    });
  });

  it("marks the env names a container's command substitutes as $(NAME), unless allow-env names them", () => {
    const deployment = (annotations?: Record<string, string>): V1Deployment => ({
      metadata: { name: 'web', namespace: 'batch', ...(annotations ? { annotations } : {}) },
      spec: {
        selector: {},
        template: {
          spec: {
            containers: [
              { name: 'web', image: 'web:1', command: ['sh', '-c', 'serve --region $(REGION) $$(ESCAPED)'], env: [{ name: 'REGION', value: 'west' }, { name: 'ESCAPED', value: 'x' }] },
              { name: 'sidecar', image: 'side:1', args: ['--to=$(TARGET)'], env: [{ name: 'TARGET', value: 'a' }] },
            ],
          },
        },
      },
    });
    expect(summarizeDeployment(deployment(), 'dev', false).containers.map((c) => c.commandEnv)).toEqual([['REGION'], ['TARGET']]);
    expect(summarizeDeployment(deployment({ 'aks-job-runner.io/allow-env': 'REGION' }), 'dev', false).containers.map((c) => c.commandEnv)).toEqual([[], ['TARGET']]);
  });

  const annotated = (annotations: Record<string, string> | undefined): V1Deployment => ({
    metadata: { name: 'web', namespace: 'batch', ...(annotations ? { annotations } : {}) },
    spec: { selector: {}, template: { spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
  });
  it.each([
    { name: 'opted out', annotations: { [RUNNABLE_ANNOTATION]: 'false' }, optIn: false, says: `${RUNNABLE_ANNOTATION}: "false"` },
    { name: 'not opted in where sources must', annotations: undefined, optIn: true, says: 'SOURCES_OPT_IN is on' },
  ])('marks a Deployment $name as not runnable, with the reason the create route gives', ({ annotations, optIn, says }) => {
    const summary = summarizeDeployment(annotated(annotations), 'dev', optIn);
    expect(summary.runnable).toBe(false);
    expect(summary.notRunnableReason).toContain(says);
  });

  it('marks a Deployment that opted in as runnable where sources must opt in', () => {
    expect(summarizeDeployment(annotated({ [RUNNABLE_ANNOTATION]: 'true' }), 'dev', true)).toMatchObject({ runnable: true, notRunnableReason: null });
  });
});
