/**
 * Every KQL query of the app lives in infra/queries (the workbook and the alert rules load them with Bicep's
 * loadTextContent, docs/operations.md shows them). Here each is parsed and analysed by the Kusto language service
 * (npm @kusto/language-service-next, the parser of Azure Data Explorer's and Log Analytics' own editors) against
 * the tables of a workspace-based Application Insights resource, declared below, so a typo in an operator, a
 * function or a column fails CI rather than an alert rule at 3 a.m. Every `ajr.*` name a query reads must be one
 * the app emits (src/core/telemetry-names.ts, the audit attributes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ATTRIBUTES, EVENTS, METRICS, OPERATIONS_ATTRIBUTES } from '../../src/core/telemetry-names.js';

const QUERIES = join(import.meta.dirname, '../../infra/queries');

/**
 * The columns of the workspace tables the queries read, as the Azure Monitor Logs table reference gives them
 * (learn.microsoft.com/azure/azure-monitor/reference/tables/apptraces, appmetrics, apprequests). A column not listed
 * here is an error, as it would be in the workspace.
 */
const COMMON = 'TenantId: string, TimeGenerated: datetime, AppRoleName: string, AppRoleInstance: string, AppVersion: string, ClientType: string, ClientIP: string, ResourceGUID: string, IKey: string, SDKVersion: string, ItemCount: int, Properties: dynamic, SourceSystem: string, Type: string, _ResourceId: string';
const OPERATION = 'OperationId: string, OperationName: string, ParentId: string, SyntheticSource: string, SessionId: string, UserId: string';
const TABLES: Readonly<Record<string, string>> = {
  AppTraces: `(${COMMON}, ${OPERATION}, Message: string, SeverityLevel: int, Measurements: dynamic)`,
  AppMetrics: `(${COMMON}, Name: string, Sum: real, Min: real, Max: real)`,
  AppRequests: `(${COMMON}, ${OPERATION}, Id: string, Name: string, Url: string, Success: bool, ResultCode: string, DurationMs: real, PerformanceBucket: string, Source: string, Measurements: dynamic)`,
  AppDependencies: `(${COMMON}, ${OPERATION}, Id: string, Name: string, Target: string, DependencyType: string, Data: string, Success: bool, ResultCode: string, DurationMs: real, Measurements: dynamic)`,
};

interface Diagnostic {
  Severity: string;
  Code: string;
  Message: string;
  Start: number;
}
interface KustoLanguage {
  Symbols: {
    TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
    DatabaseSymbol: { $ctor1: new (name: string, members: unknown[], isOpen: boolean) => unknown };
  };
  GlobalState: { Default: { WithDatabase(database: unknown): unknown } };
  KustoCode: { ParseAndAnalyze(text: string, globals: unknown): { GetDiagnostics(): { Count: number; getItem(i: number): Diagnostic } } };
}

function kusto(): KustoLanguage {
  // The package is a Bridge.NET build of Kusto.Language: its runtime, then the library, each defining globals.
  const require = createRequire(import.meta.url);
  require('@kusto/language-service-next/bridge.js');
  require('@kusto/language-service-next/Kusto.Language.Bridge.js');
  return (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
}

const K = kusto();
const workspace = K.GlobalState.Default.WithDatabase(
  new K.Symbols.DatabaseSymbol.$ctor1(
    'workspace',
    Object.entries(TABLES).map(([name, schema]) => new K.Symbols.TableSymbol.$ctor7(name, schema, null)),
    false,
  ),
);

/** The errors the language service finds in a query, with the line they are on. */
function kqlErrors(text: string): string[] {
  const diagnostics = K.KustoCode.ParseAndAnalyze(text, workspace).GetDiagnostics();
  const errors: string[] = [];
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    if (d.Severity !== 'Error') continue;
    const line = text.slice(0, d.Start).split('\n').length;
    errors.push(`line ${String(line)}: ${d.Code} ${d.Message}`);
  }
  return errors;
}

// The first analysis loads the library's tables of functions and operators (seconds); later ones take milliseconds.
kqlErrors('print warm = 1');

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
