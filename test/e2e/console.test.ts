import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AppsV1Api } from '@kubernetes/client-node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { ALLOW_COMMAND_ANNOTATION } from '../../src/core/consent.js';
import { RETRY_ON_DISRUPTION_ANNOTATION } from '../../src/core/labels.js';
import { serveConsoleFrom } from '../../src/http/console.js';
import { COMPLETE_DELAY_ANNOTATION, COMPLETE_JITTER_ANNOTATION, evicted, fails, LOCAL_POD_LOG_LINES, quickStart, TERMINATION_MESSAGE_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { ensureBrowser } from '../support/browser.js';
import { localAppSettings } from '../support/e2e-settings.js';
import { Receiver } from '../support/webhook-receiver.js';

/**
 * The console in a real browser (the machine's Chromium or Chrome, test/support/browser.ts, driven by playwright-core) on the local runtime and the
 * local control plane: everything a person does there goes through the app's public HTTP API. Screenshots of
 * every page at 1280 px and 390 px go to test-artifacts/console/.
 */
const ns = useNamespace('console');
const kube = adminKube();
const root = resolve(import.meta.dirname, '../..');
const artifacts = join(root, 'test-artifacts', 'console');
const KEY = 'console-e2e-key';
const WIDTHS = [
  { name: 'wide', width: 1280, height: 900 },
  { name: 'narrow', width: 390, height: 844 },
] as const;

let app: LocalApp;
let browser: Browser;
/** The browser found (or installed); unset when there is none, and then nothing else was started either. */
let executablePath: string | undefined;
let page: Page;
let built: string;
let stateDir: string;
let consoleUrl: string;
/** Where a run's subscription is told of its start and its verdict. */
const receiver = new Receiver();

/** Both widths, full page, named by the step; the wide one stays on screen afterwards. */
async function shoot(name: string): Promise<void> {
  for (const size of WIDTHS) {
    await page.setViewportSize({ width: size.width, height: size.height });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(artifacts, `${name}-${size.name}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: WIDTHS[0].width, height: WIDTHS[0].height });
}

beforeAll(async () => {
  // First, so a machine without a browser is told what to install before anything is built or started: the
  // machine's Chromium or Chrome; on Debian as root, installed as .ci/run does.
  executablePath = ensureBrowser();
  // Its own build: the package test cleans dist/ while other tests run.
  built = await mkdtemp(join(tmpdir(), 'console-build-'));
  const vite = spawnSync(join(root, 'node_modules/.bin/vite'), ['build', '--config', 'console/vite.config.ts', '--outDir', built, '--emptyOutDir'], { cwd: root, encoding: 'utf8' });
  if (vite.status !== 0) throw new Error(`vite build failed: ${vite.stderr}${vite.stdout}`);
  serveConsoleFrom(built);
  await mkdir(artifacts, { recursive: true });

  Object.assign(process.env, localAppSettings(ns(), {
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    WEBHOOK_SIGNING_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
  }));
  await receiver.listen();
  const apps = kube.kc.makeApiClient(AppsV1Api);
  // A web app's Deployment, as a team has it; no Deployment controller runs here, so it makes no pods.
  await apps.createNamespacedDeployment({
    namespace: ns(),
    body: {
      // Its owner lets CronJobs made from it run a command of their own (the consent the create form needs).
      metadata: { name: 'shop-web', annotations: { [ALLOW_COMMAND_ANNOTATION]: 'true' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'shop-web' } },
        template: {
          metadata: { labels: { app: 'shop-web' }, annotations: { ...quickStart(), [COMPLETE_DELAY_ANNOTATION]: '3s', [COMPLETE_JITTER_ANNOTATION]: '3s' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'busybox:1.36',
                command: ['httpd'],
                args: ['-f', '-p', '8080'],
                env: [{ name: 'MODE', value: 'serve' }, { name: 'REGION', value: 'west' }],
                resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } },
                ports: [{ containerPort: 8080 }],
              },
            ],
          },
        },
      },
    },
  });
  const job = (name: string, annotations: Record<string, string>) =>
    kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name, namespace: ns(), suspend: true, annotations, env: [{ name: 'GREETING', value: 'hello' }] }) });
  await job('hello', { [COMPLETE_DELAY_ANNOTATION]: '2s', [TERMINATION_MESSAGE_ANNOTATION]: '{"rowsWritten":42,"report":"hello.csv"}' });
  await job('slow', { [COMPLETE_DELAY_ANNOTATION]: '1h' });
  await job('steady', { [COMPLETE_DELAY_ANNOTATION]: '10s' });
  // Its owner lets a run retry once on disruption; every pod of it is evicted (testenv's kwok stage).
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'pressure', namespace: ns(), suspend: true, fate: evicted({ after: '1s' }), jobAnnotations: { [RETRY_ON_DISRUPTION_ANNOTATION]: '1' } }) });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'broken', namespace: ns(), suspend: true, fate: fails({ exitCode: 3, runFor: '1s' }) }) });
  await kube.batch.createNamespacedCronJob({
    namespace: ns(),
    body: {
      metadata: { name: 'nightly-report' },
      spec: {
        schedule: '0 3 * * *',
        timeZone: 'Europe/Amsterdam',
        jobTemplate: { spec: { backoffLimit: 0, template: testJob({ name: 'x', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '2s' } }).spec?.template ?? {} } },
      },
    },
  });

  stateDir = await mkdtemp(join(tmpdir(), 'console-e2e-state-'));
  app = await startLocalApp({ functionKey: KEY, stateDir });
  consoleUrl = `${app.url}/api/console/`;
  browser = await chromium.launch({
    executablePath,
    // A fresh profile per launch (playwright's own temporary one); no network of Chromium's own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: WIDTHS[0].width, height: WIDTHS[0].height } });
});

afterAll(async () => {
  if (executablePath === undefined) return;
  await browser.close();
  await app.close();
  await receiver.close();
  await rm(built, { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
});

describe('the web console in a real browser', () => {
  it('asks for the function key once, keeps it for the tab, and lists the CronJobs of the namespace', async () => {
    await page.goto(consoleUrl);
    await page.getByLabel('Function key').waitFor();
    await shoot('key');
    await page.getByLabel('Function key').fill('wrong');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.getByText('That key was not accepted').waitFor();
    await page.getByLabel('Function key').fill(KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    const row = page.locator('tr[data-cronjob="nightly-report"]');
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain('At 03:00');
    expect(await row.textContent()).toContain('the cluster');
    // A reload keeps the key (sessionStorage), so no second prompt.
    await page.reload();
    await row.waitFor();
    await shoot('cronjobs');
  });

  it('creates a CronJob from a Deployment through the form: filled in from the Deployment, previewed as typed, a bad cron refused inline', async () => {
    await page.getByRole('link', { name: 'New CronJob', exact: true }).first().click();
    await page.getByLabel('Name', { exact: true }).fill('shop-report');
    const filled = page.getByTestId('filled-in');
    await expect.poll(() => filled.textContent()).toContain('busybox:1.36');
    expect(await filled.textContent()).toContain('cpu 100m');
    expect(await page.getByLabel('Value of MODE').inputValue()).toBe('serve');
    await page.getByLabel('Value of MODE').fill('report');
    // The hint beside the command says what a new command does to the Deployment's args, naming them.
    expect(await page.getByTestId('command-hint').textContent()).toMatch(/drops the Deployment's args \(-f -p 8080\) unless you give args too/);
    await page.getByLabel('Command override').fill('sh -c "echo report in $MODE mode"');
    expect(await page.getByLabel('Concurrency policy').inputValue()).toBe('Forbid');
    await page.getByText('two runs never work on the same data').waitFor();

    await page.getByLabel('Cron', { exact: true }).check();
    await page.getByLabel('Cron expression').fill('61 * * * *');
    const error = page.getByTestId('schedule-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/minute|61/i);
    await shoot('create-bad-cron');

    await page.getByLabel('Daily').check();
    await page.getByLabel('At (24-hour clock)').fill('02:30');
    await page.getByLabel('Time zone').fill('Europe/Amsterdam');
    const preview = page.getByTestId('schedule-preview');
    await expect.poll(() => preview.locator('li').count()).toBe(5);
    expect(await preview.textContent()).toContain('At 02:30');
    expect(await preview.textContent()).toContain('Europe/Amsterdam');
    expect(await error.count()).toBe(0);

    await page.getByRole('button', { name: 'Show manifest (dry run)' }).click();
    const manifest = page.getByTestId('manifest');
    await manifest.waitFor();
    expect(await manifest.textContent()).toContain('"schedule": "30 2 * * *"');
    expect(await manifest.textContent()).toContain('"report"');
    await shoot('create');

    await page.getByRole('button', { name: 'Create CronJob' }).click();
    await page.getByRole('heading', { name: 'shop-report', level: 1 }).waitFor();
    const made = await kube.batch.readNamespacedCronJob({ name: 'shop-report', namespace: ns() });
    expect(made.spec.schedule).toBe('30 2 * * *');
    expect(made.spec.timeZone).toBe('Europe/Amsterdam');
    expect(made.spec.concurrencyPolicy).toBe('Forbid');
    const container = made.spec.jobTemplate.spec?.template.spec?.containers[0];
    expect(container?.env).toContainEqual({ name: 'MODE', value: 'report' });
    expect(container?.command).toEqual(['sh', '-c', 'echo report in $MODE mode']);
    // The web server's args were not carried over to the report's command.
    expect(container?.args).toBeUndefined();
    expect(container?.resources?.requests).toEqual({ cpu: '100m', memory: '64Mi' });
    await shoot('cronjob');
  });

  it('runs the new CronJob now with an override, follows it to Success and reads its logs', async () => {
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByLabel('Value of REGION').fill('north');
    await shoot('run-dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('heading', { name: /^Run shop-report-/ }).waitFor();
    const runId = (await page.getByRole('heading', { name: /^Run shop-report-/ }).textContent())?.replace(/^Run /, '') ?? '';
    const status = page.getByTestId('run-status');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toContain('Success');
    const job = await kube.batch.readNamespacedJob({ name: runId, namespace: ns() });
    expect(job.spec?.template.spec?.containers[0]?.env).toContainEqual({ name: 'REGION', value: 'north' });
    const log = page.getByTestId('log');
    await expect.poll(() => log.textContent(), { timeout: 30_000 }).toContain(LOCAL_POD_LOG_LINES[0]);
    await shoot('run');
    await page.goto(`${consoleUrl}#/cronjobs?namespace=${ns()}`);
    await expect.poll(() => page.locator('tr[data-cronjob="shop-report"]').textContent()).toContain('Success');
    await shoot('cronjobs-with-runs');
    await page.goBack();
    await log.waitFor();
    // Once the Job and its pods are gone, the same log comes from the archive the run's end wrote.
    await kube.batch.deleteNamespacedJob({ name: runId, namespace: ns(), propagationPolicy: 'Background' });
    await waitFor(`pods of ${runId} gone`, async () => (await kube.core.listNamespacedPod({ namespace: ns(), labelSelector: `batch.kubernetes.io/job-name=${runId}` })).items.length === 0);
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh log' }).click();
          await page.waitForTimeout(300);
          return page.getByTestId('log-source').textContent();
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toContain('from the archive');
    expect(await log.textContent()).toContain(LOCAL_POD_LOG_LINES[0]);
    await shoot('run-archived-log');
  });

  it("edits a CronJob's schedule, sending the version it read", async () => {
    await page.goto(`${consoleUrl}#/cronjobs/shop-report?namespace=${ns()}`);
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Weekly').check();
    await page.getByRole('combobox', { name: /^On\b/ }).selectOption('friday');
    await expect.poll(() => page.getByTestId('schedule-preview').textContent()).toContain('Friday');
    await shoot('cronjob-edit');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('saved').waitFor();
    expect((await kube.batch.readNamespacedCronJob({ name: 'shop-report', namespace: ns() })).spec.schedule).toBe('30 2 * * 5');
  });

  it('runs a Job ad hoc with an override and shows its outputs', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).first().click();
    await page.locator('tr[data-job="hello"]').waitFor();
    await shoot('jobs');
    await page.locator('tr[data-job="hello"]').getByRole('button', { name: 'Run…' }).click();
    await page.getByLabel('Value of GREETING').fill('hi from the console');
    await page.getByRole('dialog').getByRole('button', { name: 'Run now' }).click();
    const status = page.getByTestId('run-status');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toContain('Success');
    expect(await status.textContent()).toContain('rowsWritten');
  });

  it('cancels a long run while it runs', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).first().click();
    await page.locator('tr[data-job="slow"]').getByRole('button', { name: 'Run…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Run now' }).click();
    const status = page.getByTestId('run-status');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toContain('Running');
    // While it runs, its log is followed as it is written (one streamed answer, not a poll every few seconds).
    const followed = page.locator('[data-testid="log"][data-following="true"]');
    await expect.poll(() => followed.textContent(), { timeout: 30_000 }).toContain(LOCAL_POD_LOG_LINES[0]);
    expect(await page.getByTestId('log-source').textContent()).toContain('following live');
    await shoot('run-following');
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toContain('Cancelled');
    await shoot('run-cancelled');
  });

  it('shows why a run failed, with its last lines, and reruns it from the run page', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).first().click();
    await page.locator('tr[data-job="broken"]').getByRole('button', { name: 'Run…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Run now' }).click();
    const status = page.getByTestId('run-status');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toContain('Failed');
    const first = new URL(page.url()).hash;
    expect(await page.getByTestId('failure-kind').textContent()).toBe('ExitCode');
    expect(await page.getByTestId('exit-code').textContent()).toBe('3');
    expect((await page.getByTestId('log-tail').textContent())?.trimEnd().endsWith(LOCAL_POD_LOG_LINES.at(-1) ?? '')).toBe(true);
    await shoot('run-failed');
    await page.getByRole('button', { name: 'Rerun' }).click();
    await expect.poll(() => new URL(page.url()).hash, { timeout: 30_000 }).not.toBe(first);
    const original = /runs\/([a-z0-9-]+)/.exec(first)?.[1] ?? '';
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 60_000 }).toContain(`a rerun of ${original}`);
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 60_000 }).toContain('Failed');
  });

  it("lists the namespace's runs, whoever started them, filters them by status and opens one on its run page (issue 22 item 6)", async () => {
    // A run started as curl starts one: until this page, the console reached it only by its id.
    const started = await fetch(`${app.url}/api/jobs/${ns()}/hello/runs`, {
      method: 'POST',
      headers: { 'x-functions-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ GREETING: 'from curl' }),
    });
    expect(started.status).toBe(202);
    const { runId: curlRun } = (await started.json()) as { runId: string };
    await page.getByRole('link', { name: 'Runs', exact: true }).first().click();
    const curlRow = page.locator(`tr[data-run="${curlRun}"]`);
    await curlRow.waitFor();
    expect(await curlRow.locator('th').textContent()).toContain(curlRun);
    expect(await curlRow.textContent()).toContain('hello');
    expect(await curlRow.textContent()).toContain('on request, function key');
    // Newest first: the run just started leads.
    expect(await page.locator('tr[data-run]').first().getAttribute('data-run')).toBe(curlRun);
    // The earlier tests' runs: the broken Job's two failed runs with their cause, the console's run of hello, and
    // the shop-report run whose Job was deleted, listed from the archive. (The cancelled run's Job was deleted before
    // its archive was written: listed to its caller from orchestration version 3.1 on, which tells the archive who.)
    const rows = page.locator('tr[data-run]');
    await shoot('runs');
    const texts = await rows.allTextContents();
    expect(texts.filter((t) => /Failed.*ExitCode.*broken/.test(t)), texts.join('\n')).toHaveLength(2);
    expect(texts.filter((t) => /Success.*hello/.test(t)), texts.join('\n')).toHaveLength(1);
    expect(texts.some((t) => /shop-report-[a-z0-9]+archived.*Success.*shop-report.*CronJob/.test(t)), texts.join('\n')).toBe(true);

    await page.getByLabel('Status').selectOption('Failed');
    await expect.poll(() => new URL(page.url()).hash).toContain('status=Failed');
    await expect.poll(async () => (await rows.allTextContents()).length).toBe(2);
    for (const text of await rows.allTextContents()) expect(text).toMatch(/Failed.*ExitCode/);
    await shoot('runs-failed');
    // A reload keeps the filter: it lives in the page's address.
    await page.reload();
    await expect.poll(async () => (await rows.allTextContents()).length).toBe(2);
    expect(await page.getByLabel('Status').inputValue()).toBe('Failed');

    // Each run opens its run page, with its cause, its last lines and the Rerun button.
    const failedRun = (await rows.first().getAttribute('data-run')) ?? '';
    await rows.first().getByRole('link', { name: failedRun }).click();
    await page.getByRole('heading', { name: `Run ${failedRun}` }).waitFor();
    expect(await page.getByTestId('failure-kind').textContent()).toBe('ExitCode');
    await page.getByRole('button', { name: 'Rerun' }).waitFor();
    expect(await page.getByRole('link', { name: 'Runs', exact: true }).first().getAttribute('aria-current')).toBe('page');
  });

  it("hands a CronJob to the app's scheduler and back", async () => {
    await page.getByRole('link', { name: 'CronJobs', exact: true }).first().click();
    const row = page.locator('tr[data-cronjob="nightly-report"]');
    await row.getByRole('button', { name: 'Hand to app' }).click();
    await row.getByRole('button', { name: 'Hand back to cluster' }).waitFor();
    expect(await row.textContent()).toContain('the app');
    const handed = await kube.batch.readNamespacedCronJob({ name: 'nightly-report', namespace: ns() });
    expect(handed.spec.suspend).toBe(true);
    expect(handed.metadata?.labels?.['aks-job-runner.io/scheduler']).toBe('app');
    await shoot('cronjobs-handed-over');
    await row.getByRole('button', { name: 'Hand back to cluster' }).click();
    await row.getByRole('button', { name: 'Hand to app' }).waitFor();
    expect((await kube.batch.readNamespacedCronJob({ name: 'nightly-report', namespace: ns() })).spec.suspend).not.toBe(true);
  });

  it('suspends a CronJob and resumes it', async () => {
    const row = page.locator('tr[data-cronjob="nightly-report"]');
    await row.getByRole('button', { name: 'Suspend' }).click();
    await row.getByRole('button', { name: 'Resume' }).waitFor();
    expect((await kube.batch.readNamespacedCronJob({ name: 'nightly-report', namespace: ns() })).spec.suspend).toBe(true);
    expect(await row.textContent()).toContain('none: suspended');
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByRole('button', { name: 'Suspend' }).waitFor();
    expect((await kube.batch.readNamespacedCronJob({ name: 'nightly-report', namespace: ns() })).spec.suspend).toBe(false);
  });

  it('deletes a CronJob only after it is confirmed', async () => {
    const row = page.locator('tr[data-cronjob="shop-report"]');
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Keep it' }).click();
    await row.waitFor();
    await row.getByRole('button', { name: 'Delete' }).click();
    await shoot('delete-confirm');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete shop-report' }).click();
    await row.waitFor({ state: 'detached' });
    await waitFor('CronJob shop-report gone', async () => kube.batch.readNamespacedCronJob({ name: 'shop-report', namespace: ns() }).then(() => false, () => true));
  });

  it("shows a run's attempts when it retried on disruption: each Job, its failure kind and exit code", async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).first().click();
    await page.locator('tr[data-job="pressure"]').getByRole('button', { name: 'Run…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Run now' }).click();
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 90_000 }).toContain('Failed');
    const runId = /runs\/([a-z0-9-]+)/.exec(new URL(page.url()).hash)?.[1] ?? '';
    const rows = page.getByTestId('run-attempts').locator('tbody tr');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(2);
    expect(await rows.nth(0).textContent()).toContain(runId);
    expect(await rows.nth(1).textContent()).toContain(`${runId}-2`);
    expect(await page.getByTestId('attempt-outcome').allTextContents()).toEqual(['Evicted · exit code 137 (SIGKILL)', 'Evicted · exit code 137 (SIGKILL)']);
    // The cause counts the failed pods of the current Job, not the run's attempts: worded so, beside the attempts table.
    expect(await page.getByTestId('run-cause').textContent()).toContain(' · pod attempt 1 · ');
    // A failed run ended when its Job's Failed condition says (the Job controller sets completionTime on success only).
    expect(await page.getByTestId('run-status').textContent()).not.toMatch(/Finished\s*—/);
    await shoot('run-attempts');
  });

  it("shows who is told of a run: each subscription's host and each event's delivery, never the URL", async () => {
    const started = await fetch(`${app.url}/api/jobs/${ns()}/hello/runs?code=${KEY}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ subscription: { url: receiver.url('/console/told', '?token=hidden-in-the-console'), events: ['started', 'finished'] } }),
    });
    expect(started.status).toBe(201);
    const { runId } = (await started.json()) as { runId: string };
    // Both events delivered, as the run's status route tells it; then the page shows what that answer holds.
    await waitFor('both deliveries', async () => {
      const answer = await fetch(`${app.url}/api/runs/${runId}?code=${KEY}`);
      const body = (await answer.json()) as { subscriptions?: { deliveries: Record<string, { state: string }> }[] };
      const deliveries = body.subscriptions?.[0]?.deliveries;
      return deliveries?.started?.state === 'delivered' && deliveries.finished?.state === 'delivered' ? true : undefined;
    }, 60_000);
    await page.goto(`${consoleUrl}#/runs/${runId}?cluster=local&namespace=${ns()}`);
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 30_000 }).toContain('Success');
    const table = page.getByTestId('run-subscriptions');
    const rows = table.locator('tbody tr');
    // Each event on a row of its own.
    await expect.poll(async () => (await rows.allTextContents()).map((r) => `${/started|finished/.exec(r)?.[0] ?? ''}${r.includes('delivered') ? ' delivered' : ''}`), { timeout: 30_000 }).toEqual([
      'started delivered',
      'finished delivered',
    ]);
    expect(await table.textContent()).toContain(`http://127.0.0.1:${String(receiver.port)}`);
    expect(await page.content()).not.toContain('hidden-in-the-console');
    expect(receiver.at('/console/told')).toHaveLength(2);
    await shoot('run-subscriptions');
  });
  it("shows the run's log once it has ended, also when the status poll saw the verdict before the followed log's end line came", async () => {
    // What a loaded CI machine once made happen: the status poll saw Success first, the follow stopped without its
    // end line, and the page kept the log it asked for on opening. Here the follow never gets an answer (so never an
    // end line) and that first log is empty, as it is before the pod has written anything.
    const logs = (url: URL) => /^\/api\/runs\/[^/]+\/logs$/.test(url.pathname);
    let first = true;
    await page.route(logs, async (route) => {
      if (new URL(route.request().url()).searchParams.get('follow') === 'true') return route.abort();
      if (!first) return route.continue();
      first = false;
      return route.fulfill({ status: 200, contentType: 'text/plain; charset=utf-8', body: '' });
    });
    try {
      const started = await fetch(`${app.url}/api/jobs/${ns()}/steady/runs?code=${KEY}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(started.status).toBe(202);
      const { runId } = (await started.json()) as { runId: string };
      await page.goto(`${consoleUrl}#/runs/${runId}?cluster=local&namespace=${ns()}`);
      // The page saw the run running (it follows the log only then), and the follow is failing.
      await expect.poll(() => page.getByTestId('log-source').textContent(), { timeout: 30_000 }).toContain('following live');
      await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 60_000 }).toContain('Success');
      await expect.poll(() => page.getByTestId('log').textContent(), { timeout: 30_000 }).toContain(LOCAL_POD_LOG_LINES[0]);
      expect(first).toBe(false);
    } finally {
      await page.unroute(logs);
    }
  });
});
