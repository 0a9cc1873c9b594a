import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { HttpRequest, type HttpResponseInit, InvocationContext, type Timer } from '@azure/functions';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LocalDurable } from '../../local/durable/runtime.js';
import { LAST_SCHEDULE_ANNOTATION, SCHEDULER_LABEL } from '../../src/core/labels.js';
import { ATTRIBUTES, METRICS } from '../../src/core/telemetry-names.js';
import { getRun } from '../../src/functions/getRun.js';
import { scheduler } from '../../src/functions/scheduler.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION, fails, succeeds } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { localRunPath, runPathConfig, startJob } from '../integration/run-path.js';
import { ensureBrowser } from '../support/browser.js';
import { latenessPerHour, type MetricRow, runsPerHour } from '../support/kql-equivalents.js';
import { captureTelemetry, type TelemetryCapture } from '../support/otel-capture.js';

/**
 * The workbook mock-up of docs/operations.md, drawn from real local data: Jobs that succeed and fail and a CronJob
 * handed over to the scheduler, run on the test control plane by the local Durable runtime; the telemetry the app
 * emits, captured with the OpenTelemetry SDK; the workbook's queries (their renderings in kql-equivalents.ts) over
 * it; the charts drawn in Chromium. `npm run mockup:workbook` writes the picture to docs/images; otherwise it goes
 * to a temporary directory and only the checks count.
 *
 * The run rows: the app's `ajr.runs.finished` points when the run path emits them, else (a branch without the run
 * metrics) the same fields from each run's final snapshot, which is what the metric carries.
 */
const ns = useNamespace('mockup');
const kube = adminKube();
const OUT = process.env.WORKBOOK_MOCKUP_OUT;
let durable: LocalDurable;
let telemetry: TelemetryCapture;
const context = (name: string) => new InvocationContext({ functionName: name, invocationId: `mockup-${name}`, logHandler: () => undefined });
const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

interface RunRow {
  source: string;
  status: string;
  failureKind: string;
  seconds: number;
}

beforeAll(() => {
  setServices(createServices(runPathConfig(ns())));
  durable = localRunPath();
  telemetry = captureTelemetry();
});
afterAll(async () => {
  await durable.close();
  await telemetry.stop();
});

async function snapshot(runId: string): Promise<Record<string, unknown>> {
  const answer: HttpResponseInit = await getRun(new HttpRequest({ method: 'GET', url: `http://127.0.0.1/api/runs/${runId}`, params: { runId } }), durable, context('getRun'));
  return answer.jsonBody as Record<string, unknown>;
}

const svgBars = (rows: { label: string; parts: { value: number; color: string }[] }[], height = 160) => {
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((a, p) => a + p.value, 0)));
  const width = 40;
  const bars = rows
    .map((r, i) => {
      let y = height;
      const rects = r.parts
        .map((p) => {
          const h = (p.value / max) * (height - 20);
          y -= h;
          return `<rect x="${i * (width + 12) + 30}" y="${y}" width="${width}" height="${h}" fill="${p.color}"/>`;
        })
        .join('');
      return `${rects}<text x="${i * (width + 12) + 30}" y="${height + 14}" font-size="10">${r.label}</text>`;
    })
    .join('');
  return `<svg width="${rows.length * (width + 12) + 60}" height="${height + 20}"><line x1="28" y1="${height}" x2="${rows.length * (width + 12) + 40}" y2="${height}" stroke="#999"/><text x="0" y="14" font-size="10">${max}</text>${bars}</svg>`;
};

function page(runs: RunRow[], metrics: MetricRow[]): string {
  const hours = runsPerHour(metrics);
  const byHour = [...new Set(hours.map((h) => h.hour))].map((hour) => ({
    label: hour.slice(11, 16),
    parts: [
      { value: hours.filter((h) => h.hour === hour && h.status === 'Success').reduce((a, h) => a + h.runs, 0), color: '#2e7d32' },
      { value: hours.filter((h) => h.hour === hour && h.status === 'Failed').reduce((a, h) => a + h.runs, 0), color: '#c62828' },
      { value: hours.filter((h) => h.hour === hour && h.status === 'Cancelled').reduce((a, h) => a + h.runs, 0), color: '#9e9e9e' },
    ],
  }));
  const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const pct = (p: number) => seconds[Math.min(seconds.length - 1, Math.ceil((p / 100) * seconds.length) - 1)] ?? 0;
  const failing = Object.entries(
    runs.filter((r) => r.status === 'Failed').reduce<Record<string, Record<string, number>>>((acc, r) => {
      const kinds = (acc[r.source] ??= {});
      kinds[r.failureKind] = (kinds[r.failureKind] ?? 0) + 1;
      return acc;
    }, {}),
  )
    .map(([source, kinds]) => ({ source, failures: Object.values(kinds).reduce((a, b) => a + b, 0), kinds }))
    .sort((a, b) => b.failures - a.failures);
  const lateness = latenessPerHour(metrics);
  const throttling = metrics.filter((m) => m.name === METRICS.kubeRequests);
  const tile = (title: string, body: string) => `<section><h2>${title}</h2>${body}</section>`;
  return `<!doctype html><html><head><meta charset="utf-8"><style>
    body { font-family: 'Segoe UI', sans-serif; margin: 16px; background: #fff; color: #222; width: 1100px; }
    h1 { font-size: 18px; } h2 { font-size: 13px; margin: 0 0 8px; }
    .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
    section { border: 1px solid #ddd; border-radius: 4px; padding: 10px; min-height: 200px; }
    table { border-collapse: collapse; font-size: 12px; } td, th { border-bottom: 1px solid #eee; padding: 3px 10px; text-align: left; }
    .note { color: #777; font-size: 11px; } .legend span { font-size: 11px; margin-right: 10px; }
  </style></head><body>
  <h1>aks-job-runner operations <span class="note">(mock-up from ${String(runs.length)} runs on the local runtime and test cluster, ${new Date().toISOString().slice(0, 16)}Z; time range: 24 hours)</span></h1>
  <div class="grid">
  ${tile('Runs per hour, by verdict', `${svgBars(byHour)}<div class="legend"><span style="color:#2e7d32">■ Success</span><span style="color:#c62828">■ Failed</span><span style="color:#9e9e9e">■ Cancelled</span></div>`)}
  ${tile('Run duration, p50 and p95 (seconds)', `<table><tr><th>hour</th><th>p50</th><th>p95</th><th>runs</th></tr><tr><td>${new Date().toISOString().slice(11, 13)}:00</td><td>${pct(50).toFixed(1)}</td><td>${pct(95).toFixed(1)}</td><td>${String(seconds.length)}</td></tr></table>${svgBars(runs.map((r, i) => ({ label: String(i + 1), parts: [{ value: Math.round(r.seconds * 10) / 10, color: '#1565c0' }] })), 120)}<div class="note">each run's duration (s)</div>`)}
  ${tile('Top failing sources', `<table><tr><th>source</th><th>failures</th><th>kinds</th></tr>${failing.map((f) => `<tr><td>${f.source}</td><td>${String(f.failures)}</td><td>${JSON.stringify(f.kinds)}</td></tr>`).join('')}</table>`)}
  ${tile('Scheduler lateness: fire time minus due time (seconds)', `<table><tr><th>hour</th><th>mean</th><th>worst</th><th>runs fired</th></tr>${lateness.map((l) => `<tr><td>${l.hour.slice(11, 16)}</td><td>${l.meanSeconds.toFixed(2)}</td><td>${l.maxSeconds.toFixed(2)}</td><td>${String(l.runs)}</td></tr>`).join('')}</table>`)}
  ${tile('Kubernetes API requests and throttling (429), per cluster', throttling.length === 0 ? '<p class="note">No ajr.kube.requests points in this window (the test cluster did not throttle, and this build emits no request metric).</p>' : `<table><tr><th>cluster</th><th>requests</th><th>throttled</th></tr>${[...new Set(throttling.map((t) => String(t.properties[ATTRIBUTES.cluster])))].map((c) => `<tr><td>${c}</td><td>${String(throttling.filter((t) => t.properties[ATTRIBUTES.cluster] === c).reduce((a, t) => a + t.sum, 0))}</td><td>${String(throttling.filter((t) => t.properties[ATTRIBUTES.cluster] === c && t.properties[ATTRIBUTES.throttled] === true).reduce((a, t) => a + t.sum, 0))}</td></tr>`).join('')}</table>`)}
  </div></body></html>`;
}

describe('the workbook mock-up, from runs on the local runtime', () => {
  it('charts what the runs and the scheduler did, and draws it', async () => {
    const executablePath = ensureBrowser();
    const jobs = [
      { name: 'nightly-report', fate: succeeds({ runFor: '1s' }), starts: 4 },
      { name: 'invoice-import', fate: fails({ exitCode: 3, runFor: '1s' }), starts: 2 },
      { name: 'cache-warmup', fate: succeeds({ runFor: '3s' }), starts: 2 },
    ];
    for (const job of jobs) await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: job.name, namespace: ns(), fate: job.fate, suspend: true }) });
    const started: { runId: string; source: string; at: number }[] = [];
    for (const job of jobs) {
      for (let i = 0; i < job.starts; i++) {
        const answer = await startJob(durable, ns(), job.name, {});
        expect(answer.status, JSON.stringify(answer.jsonBody)).toBe(202);
        started.push({ runId: (answer.jsonBody as { runId: string }).runId, source: job.name, at: Date.now() });
      }
    }
    // A CronJob handed over, due at the start of this minute: the tick on the real clock fires it, a few seconds late.
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const template = testJob({ name: 'hourly-sync', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } });
    await kube.batch.createNamespacedCronJob({
      namespace: ns(),
      body: {
        metadata: { name: 'hourly-sync', labels: { [SCHEDULER_LABEL]: 'app' }, annotations: { [LAST_SCHEDULE_ANNOTATION]: new Date(minute.getTime() - 60_000).toISOString() } },
        spec: { schedule: '* * * * *', suspend: true, jobTemplate: { spec: template.spec } },
      },
    });
    const report = await scheduler(timer, durable, context('scheduler'));
    expect(report?.started).toHaveLength(1);

    const runs: RunRow[] = [];
    for (const run of started) {
      const final = await waitFor(`run ${run.runId} to finish`, async () => {
        const s = await snapshot(run.runId);
        return ['Success', 'Failed', 'Cancelled'].includes(String(s.status)) ? s : undefined;
      }, 90_000, 500);
      // From the start request to the verdict: the Job's completion as the snapshot has it (this loop looks late).
      const ended = Date.parse(typeof final.completionTime === 'string' ? final.completionTime : String(final.observedAt));
      runs.push({ source: `local/${ns()}/Job/${run.source}`, status: String(final.status), failureKind: typeof final.failureKind === 'string' ? final.failureKind : '', seconds: (ended - run.at) / 1000 });
    }
    // The scheduled run finishes too, and counts among the runs finished (its metrics name it like any other run).
    const scheduled = report?.started[0] ?? '';
    await waitFor(`scheduled run ${scheduled} to finish`, async () => ['Success', 'Failed', 'Cancelled'].includes(String((await snapshot(scheduled)).status)), 90_000, 500);
    const now = new Date();
    // This file's runs only: the capture sees every run the process made, and a run's metrics name its namespace.
    const captured: MetricRow[] = (await telemetry.collect())
      .filter((p) => p.name !== METRICS.runsFinished || p.attributes[ATTRIBUTES.namespace] === ns())
      .map((p) => ({ time: now, name: p.name, sum: p.sum, count: p.count, max: p.max, properties: p.attributes }));
    const runMetrics = captured.some((m) => m.name === METRICS.runsFinished)
      ? captured
      : [...captured, ...runs.map((r) => ({ time: now, name: METRICS.runsFinished, sum: 1, count: 1, max: undefined, properties: { [ATTRIBUTES.status]: r.status, [ATTRIBUTES.failureKind]: r.failureKind } }))];

    expect(runsPerHour(runMetrics).reduce((a, h) => a + h.runs, 0)).toBe(started.length + 1);
    expect(runs.filter((r) => r.status === 'Failed').map((r) => r.source)).toEqual([`local/${ns()}/Job/invoice-import`, `local/${ns()}/Job/invoice-import`]);
    const [lateness] = latenessPerHour(captured);
    expect(lateness?.runs).toBe(1);
    expect(lateness?.meanSeconds).toBeGreaterThanOrEqual(0);
    expect(lateness?.meanSeconds).toBeLessThan(60);
    expect(captured.find((m) => m.name === METRICS.schedulerTicks)?.sum).toBe(1);

    const out = OUT ?? join(await mkdtemp(join(tmpdir(), 'workbook-mockup-')), 'workbook-mockup.png');
    await mkdir(dirname(out), { recursive: true });
    const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1140, height: 800 } });
      await tab.setContent(page(runs, runMetrics));
      await tab.screenshot({ path: out, fullPage: true });
    } finally {
      await browser.close();
    }
    expect((await stat(out)).size).toBeGreaterThan(20_000);
  });
});
