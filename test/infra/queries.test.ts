/**
 * Every KQL query of the app lives in infra/queries (the workbook and the alert rules load them with Bicep's
 * loadTextContent, docs/operations.md shows them). Here each is parsed and analysed by the Kusto language service
 * (npm @kusto/language-service-next, the parser of Azure Data Explorer's and Log Analytics' own editors) against
 * the tables of a workspace-based Application Insights resource, declared below, so a typo in an operator, a
 * function or a column fails CI rather than an alert rule at 3 a.m. Every `ajr.*` name a query reads must be one
 * the app emits (src/core/telemetry-names.ts, the audit attributes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ATTRIBUTES, EVENTS, METRICS, OPERATIONS_ATTRIBUTES } from '../../src/core/telemetry-names.js';
import { kqlErrors } from '../support/kusto.js';

const QUERIES = join(import.meta.dirname, '../../infra/queries');

const files = readdirSync(QUERIES).filter((f) => f.endsWith('.kql')).sort();
const KNOWN = new Set<string>([...Object.values(METRICS), ...Object.values(EVENTS), ...Object.values(ATTRIBUTES), ...Object.values(OPERATIONS_ATTRIBUTES), 'event.name']);

describe('the KQL queries of infra/queries', () => {
  it('are there: the workbook\'s and the alerts\'', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'alert-archive-delivery-failures.kql',
        'alert-missed-due-time.kql',
        'alert-run-failed.kql',
        'alert-scheduler-stopped.kql',
        'runs-per-hour.kql',
        'run-duration.kql',
        'top-failing-sources.kql',
        'scheduler-lateness.kql',
        'throttling.kql',
      ]),
    );
  });

  it.each(files)('%s parses and every table, column and function in it exists', (file) => {
    expect(kqlErrors(readFileSync(join(QUERIES, file), 'utf8'))).toEqual([]);
  });

  it.each(files)('%s reads only telemetry names the app emits', (file) => {
    const text = readFileSync(join(QUERIES, file), 'utf8');
    const names = [...text.matchAll(/'((?:ajr|event|http)\.[^']+)'/g)].map((m) => m[1] ?? '');
    expect(names.filter((name) => !KNOWN.has(name))).toEqual([]);
  });
});

describe('the check itself', () => {
  it.each([
    ['a misspelt column', "AppTraces | where Propertis['event.name'] == 'ajr.audit'", 'KS142'],
    ['a column of another table', "AppMetrics | where Message == 'x'", 'KS142'],
    ['a misspelt operator', 'AppMetrics | summarise sum(Sum) by Name', 'KS'],
    ['a misspelt function', 'AppMetrics | summarize percentil(Sum, 95)', 'KS'],
    ['a table the workspace does not have', 'customMetrics | take 1', 'KS204'],
  ])('fails on %s', (_, query, code) => {
    const errors = kqlErrors(query);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toContain(code);
  });
});
