/**
 * The alerts and the workbook of infra (issue 24, item 4), checked as the rest of infra is without a Bicep compiler
 * (none is published on a registry this project can use): read as text and held against infra/queries, whose
 * queries are parsed by the Kusto language service here too after the Bicep's parameter substitutions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { kqlErrors } from '../support/kusto.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const mainBicep = read('infra/main.bicep');
const alertsBicep = read('infra/app/alerts.bicep');
const workbookBicep = read('infra/app/workbook.bicep');
const operationsDoc = read('docs/operations.md');
const queryFiles = readdirSync(join(ROOT, 'infra/queries')).filter((f) => f.endsWith('.kql'));
const query = (file: string) => read(`infra/queries/${file}`);

/** `replace(loadTextContent('../queries/<file>'), '<line>', '<with>')` of alerts.bicep, by file. */
function substitutions(): Map<string, { line: string; with: string }> {
  const found = new Map<string, { line: string; with: string }>();
  for (const m of alertsBicep.matchAll(/replace\(loadTextContent\('\.\.\/queries\/([\w-]+\.kql)'\), '([^']+)', '([^']+)'\)/g)) {
    found.set(m[1] ?? '', { line: m[2] ?? '', with: m[3] ?? '' });
  }
  return found;
}

/** The `name: ...` blocks of the rules var, as text, by rule name. */
function rules(): Map<string, string> {
  const body = alertsBicep.slice(alertsBicep.indexOf('var rules = ['), alertsBicep.indexOf('resource alertRules'));
  const blocks = body.split(/\n {2}\{\n/).slice(1);
  return new Map(blocks.map((block) => [/name: '([\w-]+)'/.exec(block)?.[1] ?? '', block]));
}

describe('the alerts (infra/app/alerts.bicep)', () => {
  it('are a module of main.bicep, over the workspace monitoring makes, with the action group\'s settings from azd parameters', () => {
    expect(mainBicep).toMatch(/module alerts 'app\/alerts\.bicep' = \{\s*name: 'alerts'\s*scope: rg/);
    expect(mainBicep).toMatch(/logAnalyticsName: monitoring\.outputs\.logAnalyticsName/);
    const parameters = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    expect(parameters.parameters).toMatchObject({
      alertEmails: { value: '${ALERT_EMAILS}' },
      alertOnFailedRuns: { value: '${ALERT_ON_FAILED_RUNS=false}' },
      failedRunAlertSources: { value: '${FAILED_RUN_ALERT_SOURCES}' },
      schedulerStoppedMinutes: { value: '${SCHEDULER_STOPPED_MINUTES=10}' },
      failureAlertThreshold: { value: '${FAILURE_ALERT_THRESHOLD=3}' },
    });
    expect(mainBicep).toMatch(/^param alertOnFailedRuns bool = false$/m);
  });

  it('send to one action group whose e-mail receivers are the addresses given', () => {
    expect(alertsBicep).toMatch(/resource actionGroup 'Microsoft\.Insights\/actionGroups@[\d-]+' = \{/);
    expect(alertsBicep).toMatch(/location: 'Global'/);
    expect(alertsBicep).toMatch(/var emails = filter\(map\(split\(alertEmails, ','\), e => trim\(e\)\), e => !empty\(e\)\)/);
    expect(alertsBicep).toMatch(/emailReceivers: map\(range\(0, length\(emails\)\), i => \{\s*name: 'email-\$\{i\}'\s*emailAddress: emails\[i\]/);
    expect(alertsBicep).toMatch(/actionGroups: \[\s*actionGroup\.id\s*\]/);
  });

  it('are log search alerts on the workspace, one per rule', () => {
    expect(alertsBicep).toMatch(/resource alertRules 'Microsoft\.Insights\/scheduledQueryRules@[\d-]+' = \[for rule in rules: \{/);
    expect(alertsBicep).toMatch(/kind: 'LogAlert'/);
    expect(alertsBicep).toMatch(/scopes: \[\s*workspace\.id\s*\]/);
    expect([...rules().keys()].sort()).toEqual(['failures-piling-up', 'missed-due-time', 'run-failed', 'scheduler-stopped']);
  });

  it('the failed-run alert is opt-in; the missed-due-time, scheduler-stopped and failures alerts are on', () => {
    const r = rules();
    expect(r.get('run-failed')).toMatch(/enabled: alertOnFailedRuns/);
    for (const name of ['missed-due-time', 'scheduler-stopped', 'failures-piling-up']) expect(r.get(name)).toMatch(/enabled: true/);
  });

  it('each rule runs a query of infra/queries, every parameter replacing a line the query really has', () => {
    const r = rules();
    const subs = substitutions();
    const expectedQuery: Record<string, string> = {
      'run-failed': 'alert-run-failed.kql',
      'missed-due-time': 'alert-missed-due-time.kql',
      'scheduler-stopped': 'alert-scheduler-stopped.kql',
      'failures-piling-up': 'alert-archive-delivery-failures.kql',
    };
    for (const [rule, file] of Object.entries(expectedQuery)) {
      const variable = /query: (\w+)/.exec(r.get(rule) ?? '')?.[1] ?? '';
      expect(alertsBicep, rule).toMatch(new RegExp(`^var ${variable} = (replace\\()?loadTextContent\\('\\.\\./queries/${file}'\\)`, 'm'));
      const sub = subs.get(file);
      if (sub) expect(query(file).split('\n'), `${file} has no line "${sub.line}"`).toContain(sub.line);
    }
    expect([...subs.keys()].sort()).toEqual(['alert-archive-delivery-failures.kql', 'alert-run-failed.kql', 'alert-scheduler-stopped.kql']);
  });

  it.each([
    ['alert-run-failed.kql', 'let sources = dynamic(["batch/nightly-import","etl/report"]);'],
    ['alert-scheduler-stopped.kql', 'let minutes = 20;'],
    ['alert-archive-delivery-failures.kql', 'let threshold = 5;'],
  ])('%s still parses with the parameter substituted as the Bicep does (string() of an array gives JSON)', (file, line) => {
    const sub = substitutions().get(file);
    if (!sub) throw new Error(`no substitution for ${file}`);
    // Bicep's string() writes an array as JSON (["a","b"]), which KQL's dynamic() takes as it is.
    const substituted = query(file).replace(sub.line, line);
    expect(substituted).not.toBe(query(file));
    expect(kqlErrors(substituted)).toEqual([]);
  });

  it('evaluates missed due times once each: the frequency is the query\'s period, and reads two days back', () => {
    const rule = rules().get('missed-due-time') ?? '';
    expect(query('alert-missed-due-time.kql')).toMatch(/^let period = 15m;$/m);
    expect(rule).toMatch(/evaluationFrequency: 'PT15M'/);
    expect(rule).toMatch(/overrideQueryTimeRange: 'P2D'/);
    expect(rule).toMatch(/dimensions: \['cluster', 'namespace', 'cronJob'\]/);
  });

  it('looks back at least as far as the longest silence the scheduler-stopped alert may be set to wait for', () => {
    expect(alertsBicep).toMatch(/@maxValue\(55\)\nparam schedulerStoppedMinutes int/);
    expect(rules().get('scheduler-stopped')).toMatch(/windowSize: 'PT1H'/);
  });
});

describe('the workbook (infra/app/workbook.bicep)', () => {
  it('is a module of main.bicep over the same workspace', () => {
    expect(mainBicep).toMatch(/module workbook 'app\/workbook\.bicep' = \{\s*name: 'workbook'\s*scope: rg/);
    expect(workbookBicep).toMatch(/resource operationsWorkbook 'Microsoft\.Insights\/workbooks@[\d-]+' = \{/);
    expect(workbookBicep).toMatch(/kind: 'shared'/);
    expect(workbookBicep).toMatch(/sourceId: workspace\.id/);
    expect(workbookBicep).toMatch(/serializedData: string\(workbook\)/);
    expect(workbookBicep).toMatch(/name: guid\(resourceGroup\(\)\.id, nameSeed, 'operations-workbook'\)/);
  });

  it('charts runs per hour by verdict, p50/p95 duration, top failing sources, scheduler lateness and throttling, each from infra/queries', () => {
    const loaded = [...workbookBicep.matchAll(/loadTextContent\('\.\.\/queries\/([\w-]+\.kql)'\)/g)].map((m) => m[1]);
    expect(loaded).toEqual(['runs-per-hour.kql', 'run-duration.kql', 'top-failing-sources.kql', 'scheduler-lateness.kql', 'throttling.kql']);
    expect(query('run-duration.kql')).toMatch(/percentile\(seconds, 50\).*percentile\(seconds, 95\)/);
    expect(workbookBicep).toMatch(/timeContextFromParameter: 'TimeRange'/);
  });
});

describe('one place for every query', () => {
  it.each(queryFiles)('%s is used by the Bicep or shown in docs/operations.md, exactly as it is', (file) => {
    const inBicep = alertsBicep.includes(`'../queries/${file}'`) || workbookBicep.includes(`'../queries/${file}'`);
    const block = `\`\`\`kql\n${query(file)}\`\`\``;
    expect(operationsDoc, `docs/operations.md does not show ${file} as it is`).toContain(block);
    expect(inBicep || file === 'audit.kql').toBe(true);
  });
});
