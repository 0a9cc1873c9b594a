import { createRequire } from 'node:module';

/**
 * The Kusto language service (npm @kusto/language-service-next, the parser and semantic analyser of Azure Data
 * Explorer's and Log Analytics' own query editors) with the tables of a workspace-based Application Insights
 * resource, for tests that hold the app's KQL against them.
 *
 * The columns of the workspace tables the queries read, as the Azure Monitor Logs table reference gives them
 * (learn.microsoft.com/azure/azure-monitor/reference/tables/apptraces, appmetrics, apprequests). A column not listed
 * here is an error, as it would be in the workspace.
 */
const COMMON = 'TenantId: string, TimeGenerated: datetime, AppRoleName: string, AppRoleInstance: string, AppVersion: string, ClientType: string, ClientIP: string, ResourceGUID: string, IKey: string, SDKVersion: string, ItemCount: int, Properties: dynamic, SourceSystem: string, Type: string, _ResourceId: string';
const OPERATION = 'OperationId: string, OperationName: string, ParentId: string, SyntheticSource: string, SessionId: string, UserId: string';
export const TABLES: Readonly<Record<string, string>> = {
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
export function kqlErrors(text: string): string[] {
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
