/**
 * What can be checked of the azd infrastructure without a Bicep compiler: the files are read as text (Bicep) or
 * parsed (JSON, YAML) and held against src/config.ts, host.json and the built-in role ids.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadAllYaml, loadYaml, type V1Role, type V1RoleBinding } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { hostJsonFor, SCHEDULER_CONNECTION_SETTING } from '../../scripts/durable-backend.js';
import { type KubePermission, requiredPermissions } from '../../src/clients/kubeAccess.js';
import { loadConfig, REQUIRED_SETTINGS, SETTING_NAMES } from '../../src/config.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INFRA = join(ROOT, 'infra');

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

const bicepFiles = filesUnder(INFRA)
  .filter((file) => file.endsWith('.bicep'))
  .map((file) => ({ path: relative(ROOT, file), text: readFileSync(file, 'utf8') }));
const mainBicep = read('infra/main.bicep');
const apiBicep = read('infra/app/api.bicep');

/**
 * Azure built-in role ids, checked against Microsoft's built-in roles reference (the "name" of each role's JSON
 * definition in MicrosoftDocs/azure-docs, articles/role-based-access-control/built-in-roles/storage.md,
 * monitor.md, containers.md and, for the Durable Task Scheduler, integration.md).
 */
const BUILT_IN_ROLES: Readonly<Record<string, string>> = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  'Azure Kubernetes Service Cluster User Role': '4abbcc35-e782-43d8-92c5-2d3f1bd2253f',
  'Durable Task Data Contributor': '0ad04412-c4d5-4796-b79c-f76d14c8d402',
  'EventGrid Data Sender': 'd5a91429-5739-47e2-a06b-3470a27159e7',
};

/** Settings the Functions host and its extensions read; everything else must be a setting of src/config.ts. */
const HOST_SETTINGS = new Set([
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'TASK_HUB_NAME',
]);

/**
 * Settings of src/config.ts that infra computes from other parameters or from what it creates, rather than taking
 * each from an azd variable of its own name.
 */
const COMPUTED_SETTINGS: Readonly<Record<string, string>> = {
  CLUSTERS: 'the clusters parameter (AKS_CLUSTERS), as config.ts parses it',
  DEFAULT_CLUSTER: 'defaultCluster (AKS_DEFAULT_CLUSTER), else the first cluster',
  AZURE_CLIENT_ID: "the app identity's client id",
  LOGS_ACCOUNT_URL: "the storage account's blob endpoint",
  LOGS_CONTAINER: 'the run-logs container infra creates',
  EVENT_GRID_TOPIC_ENDPOINT: 'the topic infra makes (eventGridTopic), else eventGridTopicEndpoint (EVENT_GRID_TOPIC_ENDPOINT)',
};

/** Settings of src/config.ts that Azure never gets, and why. */
const NOT_IN_AZURE: Readonly<Record<string, string>> = {
  LOGS_CONNECTION_STRING: 'a connection string holds an account key; in Azure the archive is reached with the identity (LOGS_ACCOUNT_URL)',
};

// ---------------------------------------------------------------------------------------------------------------
// A little Bicep reading: brackets, strings (with interpolation) and comments, enough to take objects apart.

const CLOSERS: Readonly<Record<string, string>> = { '{': '}', '[': ']', '(': ')' };

/** Index just past the string literal whose opening quote is at `start`. */
function skipString(src: string, start: number): number {
  if (src.startsWith("'''", start)) {
    const end = src.indexOf("'''", start + 3);
    if (end < 0) throw new Error(`unterminated multi-line string at ${start}`);
    return end + 3;
  }
  let i = start + 1;
  while (i < src.length) {
    const ch = src.charAt(i);
    if (ch === '\\') i += 2;
    else if (ch === "'") return i + 1;
    else if (ch === '$' && src.charAt(i + 1) === '{') i = closing(src, i + 1) + 1;
    else i += 1;
  }
  throw new Error(`unterminated string at ${start}`);
}

/** Index just past the comment at `start`, or `start` when there is none. */
function skipComment(src: string, start: number): number {
  if (src.startsWith('//', start)) {
    const end = src.indexOf('\n', start);
    return end < 0 ? src.length : end;
  }
  if (src.startsWith('/*', start)) return src.indexOf('*/', start) + 2;
  return start;
}

/** Index of the bracket that closes the one at `open`. */
function closing(src: string, open: number): number {
  const expected: string[] = [];
  let i = open;
  while (i < src.length) {
    const ch = src.charAt(i);
    const afterComment = skipComment(src, i);
    if (afterComment !== i) {
      i = afterComment;
      continue;
    }
    if (ch === "'") {
      i = skipString(src, i);
      continue;
    }
    const closer = CLOSERS[ch];
    if (closer !== undefined) expected.push(closer);
    else if (ch === '}' || ch === ']' || ch === ')') {
      if (expected.pop() !== ch) throw new Error(`unbalanced "${ch}" at ${i}`);
      if (expected.length === 0) return i;
    }
    i += 1;
  }
  throw new Error(`no bracket closes the one at ${open}`);
}

interface Entry {
  value: string;
  /** Where the value starts in the source, to take a nested object apart. */
  at: number;
}

/** The top-level `key: value` entries of the object literal whose `{` is at `open`. */
function entries(src: string, open: number): Map<string, Entry> {
  const end = closing(src, open);
  const result = new Map<string, Entry>();
  let start = open + 1;
  const flush = (to: number) => {
    const text = src.slice(start, to);
    const match = /^\s*(?:'([^']*)'|([A-Za-z_$][\w$]*))\s*:\s*/.exec(text);
    if (match) {
      const key = match[1] ?? match[2] ?? '';
      // Bicep refuses an object with a key twice; so does this reader.
      if (result.has(key)) throw new Error(`"${key}" appears twice in the object at ${open}`);
      result.set(key, { value: text.slice(match[0].length).trim(), at: start + match[0].length });
    }
  };
  let i = open + 1;
  while (i < end) {
    const ch = src.charAt(i);
    const afterComment = skipComment(src, i);
    if (afterComment !== i) {
      flush(i);
      start = afterComment;
      i = afterComment;
    } else if (ch === "'") {
      i = skipString(src, i);
    } else if (CLOSERS[ch] !== undefined) {
      i = closing(src, i) + 1;
    } else if (ch === '\n' || ch === ',') {
      flush(i);
      start = i + 1;
      i += 1;
    } else {
      i += 1;
    }
  }
  flush(end);
  return result;
}

function entry(map: Map<string, Entry>, key: string): Entry {
  const found = map.get(key);
  if (found === undefined) throw new Error(`no "${key}" among ${[...map.keys()].join(', ')}`);
  return found;
}

/** The entries of the object literal that follows `pattern` (which must end just before its `{`). */
function objectAfter(src: string, pattern: RegExp): Map<string, Entry> {
  const match = pattern.exec(src);
  if (!match) throw new Error(`${String(pattern)} not found`);
  return entries(src, src.indexOf('{', match.index + match[0].length));
}

interface Block {
  symbol: string;
  type: string;
  body: Map<string, Entry>;
}

/** Every `resource` or `module` declaration (nested ones too) with the entries of its body. */
function declarations(src: string, keyword: 'resource' | 'module'): Block[] {
  const header = new RegExp(`^\\s*${keyword}\\s+(\\w+)\\s+'([^']+)'[^=\\n]*=`, 'gm');
  return [...src.matchAll(header)].map((match) => ({
    symbol: match[1] ?? '',
    type: match[2] ?? '',
    body: entries(src, src.indexOf('{', match.index + match[0].length)),
  }));
}

/** `param` declarations: name → default expression (undefined when there is none or the type is nullable). */
function params(src: string): Map<string, string | undefined> {
  const found = new Map<string, string | undefined>();
  for (const match of src.matchAll(/^param\s+(\w+)\s+([^=\n]+?)\s*(?:=\s*(.+))?$/gm)) {
    const [, name = '', type = '', fallback] = match;
    found.set(name, fallback ?? (type.trim().endsWith('?') ? 'null' : undefined));
  }
  return found;
}

function outputs(src: string): Set<string> {
  return new Set([...src.matchAll(/^output\s+(\w+)\s/gm)].map((match) => match[1] ?? ''));
}

function unquote(expression: string): string {
  return /^'(.*)'$/.exec(expression)?.[1] ?? expression;
}

// ---------------------------------------------------------------------------------------------------------------

const appSettings = objectAfter(mainBicep, /^var appSettings\s*=\s*/m);
const hostSettings = objectAfter(apiBicep, /^var hostSettings\s*=\s*/m);
const allSettings = new Set([...appSettings.keys(), ...hostSettings.keys()]);

describe('azure.yaml', () => {
  it('deploys the repository root as the TypeScript function app "api"', () => {
    const azure = loadYaml<{ name: string; services: Record<string, { project: string; language: string; host: string }> }>(
      read('azure.yaml'),
    );
    expect(azure.name).toBe('aks-job-runner');
    expect(azure.services.api).toMatchObject({ project: '.', language: 'ts', host: 'function' });
  });
});

describe('app settings', () => {
  it('sets every required setting and the ones the app needs in Azure', () => {
    for (const name of [...REQUIRED_SETTINGS, 'CLUSTERS', 'DEFAULT_CLUSTER', 'AZURE_CLIENT_ID', 'TASK_HUB_NAME']) {
      expect(allSettings, name).toContain(name);
    }
    expect(hostSettings.get('AzureWebJobsStorage__credential')?.value).toBe("'managedidentity'");
  });

  // A provision replaces the app's whole settings set (the appsettings resource), so a setting that is no
  // parameter would be wiped by the next `azd provision` if set by hand. To add a setting to src/config.ts:
  // `param <name> string = ''` in infra/main.bicep, `<SETTING>: <name>` in its appSettings, and
  // `"<name>": { "value": "${<SETTING>}" }` in infra/main.parameters.json.
  it('sets every setting src/config.ts reads, so none is left to be set by hand and wiped by the next provision', () => {
    for (const name of SETTING_NAMES) {
      if (name in NOT_IN_AZURE) expect(allSettings, `${name}: ${NOT_IN_AZURE[name] ?? ''}`).not.toContain(name);
      else expect([...appSettings.keys()], `${name} has no parameter: add it to infra/main.bicep (a param and an appSettings entry) and infra/main.parameters.json`).toContain(name);
    }
    const known = new Set<string>(SETTING_NAMES);
    for (const name of [...Object.keys(COMPUTED_SETTINGS), ...Object.keys(NOT_IN_AZURE)]) expect(known, `${name} is no longer a setting`).toContain(name);
  });

  it('takes every setting infra does not compute from the azd variable of its own name, through a parameter', () => {
    const declared = params(mainBicep);
    const file = (JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> }).parameters;
    const taken = [...appSettings].filter(([name]) => !(name in COMPUTED_SETTINGS));
    expect(taken.length).toBeGreaterThanOrEqual(SETTING_NAMES.length - Object.keys(COMPUTED_SETTINGS).length - Object.keys(NOT_IN_AZURE).length);
    for (const [name, { value }] of taken) {
      const param = /^(?:string\((\w+)\)|(\w+))$/.exec(value);
      const paramName = param?.[1] ?? param?.[2] ?? '';
      expect(declared.has(paramName), `${name} = ${value} is not a parameter of infra/main.bicep`).toBe(true);
      expect(String(file[paramName]?.value), `main.parameters.json: "${paramName}" is not \${${name}}`).toMatch(new RegExp(`^\\$\\{${name}(=[^}]*)?\\}$`));
    }
  });

  it('leaves a setting whose parameter is empty (its default) to the default of src/config.ts', () => {
    // azd leaves out a parameter whose variable is unset, so the Bicep default applies, and turns a variable's text
    // into the parameter's bool or int (Azure/azure-dev at ae35809, cli/azd/pkg/infra/provisioning/bicep/
    // bicep_provider.go: loadParameters, armParameterFileValue). An empty app setting counts as unset in config.ts,
    // so the default of an empty parameter is config.ts's own, stated once.
    const declared = params(mainBicep);
    const only = JSON.stringify([{ alias: 'a', type: 'kubeconfig', kubeconfigPath: '/k', namespaces: ['x'] }]);
    const empty = [...appSettings].filter(([, { value }]) => declared.get(value) === "''").map(([name]) => name);
    expect(empty.length).toBeGreaterThan(0);
    const env = Object.fromEntries(empty.map((name) => [name, '']));
    expect(loadConfig({ ...env, CLUSTERS: only })).toEqual(loadConfig({ CLUSTERS: only }));
  });

  it('sets only names src/config.ts reads, besides the host settings', () => {
    const appNames = new Set<string>(SETTING_NAMES);
    for (const name of appSettings.keys()) expect(appNames, `${name} is not read by src/config.ts`).toContain(name);
    for (const name of hostSettings.keys()) expect(HOST_SETTINGS, `${name} is not a host setting`).toContain(name);
  });

  it('hands both sets to the app, the host settings (the scheduler\'s with it) last so the app ones cannot shadow them', () => {
    const api = declarations(mainBicep, 'module').find((m) => m.symbol === 'api');
    expect(api && entries(mainBicep, entry(api.body, 'params').at).get('appSettings')?.value).toBe('appSettings');
    const config = declarations(apiBicep, 'resource').find((r) => r.type === 'config');
    expect(config && entry(config.body, 'name').value).toBe("'appsettings'");
    expect(config && entry(config.body, 'properties').value).toBe('union(appSettings, hostSettings, empty(durableTaskSchedulerEndpoint) ? {} : schedulerSettings)');
  });

  it('reaches storage and Application Insights with the identity: no connection string to storage', () => {
    expect(allSettings).not.toContain('AzureWebJobsStorage');
    expect(hostSettings.get('AzureWebJobsStorage__clientId')?.value).toBe('identityClientId');
    expect(hostSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')?.value).toBe(
      "'ClientId=${identityClientId};Authorization=AAD'",
    );
    expect(appSettings.get('AZURE_CLIENT_ID')?.value).toBe('identity.outputs.clientId');
  });

  it('reaches blob, queue and table storage (the host and the Durable task hub) at the URIs the account reports', () => {
    // Service URIs instead of __accountName, which assumes the public cloud's core.windows.net.
    expect(allSettings).not.toContain('AzureWebJobsStorage__accountName');
    for (const service of ['blob', 'queue', 'table']) {
      expect(hostSettings.get(`AzureWebJobsStorage__${service}ServiceUri`)?.value, service).toBe(`storage.properties.primaryEndpoints.${service}`);
    }
    expect(apiBicep).toMatch(/^resource storage 'Microsoft\.Storage\/storageAccounts@[\w-]+' existing = \{\s*name: storageAccountName\s*\}/m);
    expect(hostSettings.get('AzureWebJobsStorage__credential')?.value).toBe("'managedidentity'");
  });

  it('leaves the worker runtime to functionAppConfig, since Flex Consumption refuses it as a setting', () => {
    expect(allSettings).not.toContain('FUNCTIONS_WORKER_RUNTIME');
    expect(allSettings).not.toContain('FUNCTIONS_EXTENSION_VERSION');
    expect(apiBicep).toMatch(/runtime:\s*\{\s*name:\s*'node'\s*version:\s*'22'\s*\}/);
    expect(apiBicep).toMatch(/name:\s*'FC1'\s*tier:\s*'FlexConsumption'/);
  });

  it('defaults every tunable to the default of src/config.ts', () => {
    const only = { alias: 'a', type: 'kubeconfig', kubeconfigPath: '/k', namespaces: ['x'] };
    const d = loadConfig({ CLUSTERS: JSON.stringify([only]) });
    const configDefaults: Record<string, string> = {
      POLL_INITIAL_SECONDS: String(d.poll.initialSeconds),
      POLL_MAX_SECONDS: String(d.poll.maxSeconds),
      POLL_BACKOFF_FACTOR: String(d.poll.factor),
      CONTINUE_AS_NEW_AFTER_POLLS: String(d.poll.continueAsNewAfter),
      MAX_OBSERVE_FAILURES: String(d.poll.maxObserveFailures),
      DEFAULT_RUN_TIMEOUT_SECONDS: String(d.defaultRunTimeoutSeconds),
      GRACE_IMAGE_PULL_SECONDS: String(d.grace.imagePullSeconds),
      GRACE_CONTAINER_CONFIG_SECONDS: String(d.grace.containerConfigSeconds),
      GRACE_UNSCHEDULABLE_SECONDS: String(d.grace.unschedulableSeconds),
      GRACE_QUOTA_SECONDS: String(d.grace.quotaSeconds),
      KUBE_REQUEST_TIMEOUT_SECONDS: String(d.kubeRequestTimeoutMs / 1000),
      ACTIVITY_RETRY_FIRST_SECONDS: String(d.activityRetry.firstRetryMs / 1000),
      ACTIVITY_RETRY_MAX_ATTEMPTS: String(d.activityRetry.maxAttempts),
      STATUS_RETRY_AFTER_SECONDS: String(d.statusRetryAfterSeconds),
    };
    const declared = params(mainBicep);
    for (const [name, expected] of Object.entries(configDefaults)) {
      const value = entry(appSettings, name).value;
      const param = /^(?:string\((\w+)\)|(\w+))$/.exec(value);
      const paramName = param?.[1] ?? param?.[2] ?? '';
      expect(declared.has(paramName), `${name} = ${value} is not a parameter`).toBe(true);
      expect(unquote(declared.get(paramName) ?? ''), name).toBe(expected);
    }
    // The portal of the cloud deployed to: https://portal.azure.com, config's default, in the public cloud.
    expect(declared.get(entry(appSettings, 'AZURE_PORTAL_URL').value)).toBe('environment().portal');
    expect(d.portalUrl).toBe('https://portal.azure.com');
  });

  it('builds each CLUSTERS entry exactly as src/config.ts parses an AKS cluster', () => {
    const lambda = /^var clustersSetting\s*=\s*string\(map\(clusters,\s*(\w+)\s*=>\s*union\(/m.exec(mainBicep);
    expect(lambda, 'CLUSTERS is string(map(clusters, c => union({...}, ...)))').not.toBeNull();
    expect(appSettings.get('CLUSTERS')?.value).toBe('clustersSetting');
    const item = lambda?.[1] ?? '';
    const fields = objectAfter(mainBicep, /^var clustersSetting\s*=\s*string\(map\(clusters,\s*\w+\s*=>\s*union\(/m);

    const cluster = {
      alias: 'prod',
      subscriptionId: '00000000-0000-4000-8000-000000000001',
      resourceGroup: 'rg-batch',
      clusterName: 'aks-prod',
      namespaces: ['batch', 'reports'],
      azureRbac: true,
      serverFqdn: 'aks-prod.privatelink.westeurope.azmk8s.io',
    };
    const clusterType = objectAfter(mainBicep, /^type aksCluster\s*=\s*/m);
    const typeFields = [...clusterType.keys()].sort();
    expect(typeFields, 'the parameter type has the fields of this sample').toEqual(Object.keys(cluster).sort());

    const built: Record<string, unknown> = {};
    for (const [key, { value }] of fields) {
      const field = new RegExp(`^${item}\\.(\\w+)$`).exec(value)?.[1];
      built[key] = field === undefined ? unquote(value) : cluster[field as keyof typeof cluster];
    }
    expect(built.type).toBe('aks');
    // The optional server FQDN is added only when given: config.ts takes no null for it.
    expect(mainBicep).toContain(`empty(${item}.?serverFqdn) ? {} : { serverFqdn: ${item}.?serverFqdn }`);

    for (const entryJson of [built, { ...built, serverFqdn: cluster.serverFqdn }]) {
      const parsed = loadConfig({ CLUSTERS: JSON.stringify([entryJson]) }).clusters[0];
      // zod drops unknown keys, so equality also proves Bicep adds nothing config.ts ignores.
      expect(parsed).toEqual(entryJson);
    }
  });

  it('takes the task hub from a parameter, which host.json reads through TASK_HUB_NAME', () => {
    type Host = { extensions: { durableTask: { hubName: string; storageProvider: { type: string } } } };
    const host = JSON.parse(read('host.json')) as Host;
    expect(host.extensions.durableTask.hubName).toBe('%TASK_HUB_NAME%');
    expect(host.extensions.durableTask.storageProvider.type).toBe('AzureStorage');
    expect(hostSettings.get('TASK_HUB_NAME')?.value).toBe('taskHubName');
    expect(params(apiBicep).has('taskHubName')).toBe(true);
    expect(params(mainBicep).has('taskHubName')).toBe(true);
  });
});

describe('roles', () => {
  const guidLiteral = /'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/gi;

  const used = bicepFiles.flatMap(({ path, text }) =>
    text.split('\n').flatMap((line, index) =>
      [...line.matchAll(guidLiteral)].map((match) => ({
        where: `${path}:${index + 1}`,
        id: (match[1] ?? '').toLowerCase(),
        comment: /\/\/\s*([^:]+?)\s*(?::|$)/.exec(line.slice(match.index + match[0].length))?.[1],
      })),
    ),
  );

  it('names every role id after the built-in role it is', () => {
    expect(used.length).toBeGreaterThan(0);
    for (const { where, id, comment } of used) {
      expect(comment, `${where}: ${id} has no comment naming its role`).toBeDefined();
      expect(BUILT_IN_ROLES[comment ?? ''], `${where}: "${comment ?? ''}" is not the role ${id}`).toBe(id);
    }
  });

  it('grants exactly the roles the app needs, and no management role', () => {
    expect(new Set(used.map((u) => u.comment))).toEqual(new Set(Object.keys(BUILT_IN_ROLES)));
  });

  const assignments = bicepFiles.flatMap(({ path, text }) =>
    declarations(text, 'resource')
      .filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@'))
      .map((r) => ({ path, ...r, properties: entries(text, entry(r.body, 'properties').at) })),
  );

  it('names each assignment guid(scope, principal, role) and gives it that scope, principal and role', () => {
    expect(assignments.length).toBeGreaterThanOrEqual(7);
    for (const { path, symbol, body, properties } of assignments) {
      const where = `${path} ${symbol}`;
      const name = /^guid\((\w+(?:\[i\])?)\.id,\s*principalId,\s*(\w+)\)$/.exec(entry(body, 'name').value);
      expect(name, `${where}: name is not guid(<scope>.id, principalId, <role>)`).not.toBeNull();
      expect(entry(body, 'scope').value, where).toBe(name?.[1]);
      expect(entry(properties, 'roleDefinitionId').value, where).toBe(
        `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ${name?.[2] ?? ''})`,
      );
      expect(entry(properties, 'principalId').value, where).toBe('principalId');
      expect(entry(properties, 'principalType').value, where).toBe("'ServicePrincipal'");
    }
  });

  it('grants AKS roles in the cluster\'s own resource group, the runner role per allowed namespace', () => {
    const aks = declarations(mainBicep, 'module').find((m) => m.type === 'app/rbac-aks.bicep');
    expect(aks && entry(aks.body, 'scope').value).toBe('resourceGroup(c.subscriptionId, c.resourceGroup)');
    const rbacAks = read('infra/app/rbac-aks.bicep');
    const namespace = declarations(rbacAks, 'resource').find((r) =>
      r.type.startsWith('Microsoft.ContainerService/managedClusters/namespaces@'),
    );
    expect(namespace && entry(namespace.body, 'parent').value).toBe('cluster');
    expect(namespace && entry(namespace.body, 'name').value).toBe('ns');
    const runner = assignments.find((a) => a.symbol === 'namespaceRunner');
    expect(runner && entry(runner.body, 'scope').value).toBe('allowedNamespace[i]');
  });
});

describe('the Durable backend: Azure Storage by default, the Durable Task Scheduler when azd says so', () => {
  const schedulerBicep = read('infra/app/durable-task-scheduler.bicep');
  const rbacBicep = read('infra/app/rbac.bicep');
  const modules = declarations(mainBicep, 'module');
  const schedulerModule = modules.find((m) => m.type === 'app/durable-task-scheduler.bicep');
  const schedulerParams = schedulerModule ? entries(mainBicep, entry(schedulerModule.body, 'params').at) : new Map<string, Entry>();
  const apiModule = modules.find((m) => m.symbol === 'api');
  const apiParams = apiModule ? entries(mainBicep, entry(apiModule.body, 'params').at) : new Map<string, Entry>();
  const resources = new Map(declarations(schedulerBicep, 'resource').map((r) => [r.symbol, r]));
  const schedulerSettings = objectAfter(apiBicep, /^var schedulerSettings\s*=\s*/m);
  type Host = { extensions: { durableTask: { hubName: string; storageProvider: Record<string, string> } } };
  const schedulerHost = JSON.parse(hostJsonFor('DurableTaskScheduler', read('host.json'))) as Host;

  it('is the azd parameter durableBackend, AzureStorage unless DURABLE_BACKEND names the scheduler', () => {
    expect(params(mainBicep).get('durableBackend')).toBe("'AzureStorage'");
    expect(mainBicep).toMatch(/@allowed\(\[\s*'AzureStorage'\s*'DurableTaskScheduler'\s*\]\)\s*param durableBackend string/);
    const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    expect(file.parameters.durableBackend?.value).toBe('${DURABLE_BACKEND=AzureStorage}');
    // The package is built from the same azd variable (scripts/durable-backend.ts, test/scripts).
    expect(read('scripts/durable-backend.ts')).toContain('env.DURABLE_BACKEND');
    expect(mainBicep).toMatch(/^var useScheduler = durableBackend == 'DurableTaskScheduler'$/m);
  });

  it('makes a scheduler and the app\'s task hub only for the scheduler, the hub named as host.json\'s hubName resolves', () => {
    expect(schedulerModule?.symbol).toBe('durableTaskScheduler');
    expect(mainBicep).toMatch(/^module durableTaskScheduler 'app\/durable-task-scheduler\.bicep' = if \(useScheduler\) \{/m);
    expect(schedulerParams.get('taskHubName')?.value).toBe('taskHubName');
    expect(hostSettings.get('TASK_HUB_NAME')?.value).toBe('taskHubName');
    expect(schedulerHost.extensions.durableTask.hubName).toBe('%TASK_HUB_NAME%');
    expect(schedulerParams.get('principalId')?.value).toBe('identity.outputs.principalId');
    expect(schedulerParams.get('name')?.value).toBe("!empty(durableTaskSchedulerName) ? durableTaskSchedulerName : '${abbrs.durableTaskSchedulers}${resourceToken}'");

    const scheduler = resources.get('scheduler');
    const taskHub = resources.get('taskHub');
    expect(scheduler?.type).toMatch(/^Microsoft\.DurableTask\/schedulers@\d{4}-\d{2}-\d{2}$/);
    expect(taskHub?.type).toBe(`Microsoft.DurableTask/schedulers/taskHubs@${scheduler?.type.split('@')[1] ?? ''}`);
    expect(taskHub && entry(taskHub.body, 'parent').value).toBe('scheduler');
    expect(taskHub && entry(taskHub.body, 'name').value).toBe('taskHubName');
    const properties = scheduler ? entries(schedulerBicep, entry(scheduler.body, 'properties').at) : new Map<string, Entry>();
    expect(entry(properties, 'sku').value).toBe("skuName == 'Dedicated' ? { name: skuName, capacity: capacity } : { name: skuName }");
    expect(entry(properties, 'ipAllowlist').value).toBe('ipAllowlist');
  });

  it('lets the scheduler be reached at all: its IP allow list is never empty, and open by default', () => {
    // An empty allow list refuses every call, the app's and the dashboard's, whatever the roles say.
    expect(params(mainBicep).get('durableTaskSchedulerIpAllowlist')).toBe("['0.0.0.0/0']");
    expect(mainBicep).toMatch(/@minLength\(1\)\s*param durableTaskSchedulerIpAllowlist array/);
    expect(schedulerBicep).toMatch(/@minLength\(1\)\s*param ipAllowlist array/);
    expect(schedulerParams.get('ipAllowlist')?.value).toBe('durableTaskSchedulerIpAllowlist');
    expect(params(mainBicep).get('durableTaskSchedulerSku')).toBe("'Consumption'");
  });

  it('gives the app identity Durable Task Data Contributor on its task hub alone', () => {
    const assignment = declarations(schedulerBicep, 'resource').find((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@'));
    expect(assignment && entry(assignment.body, 'scope').value).toBe('taskHub');
    expect(schedulerBicep).toContain(`'${BUILT_IN_ROLES['Durable Task Data Contributor'] ?? ''}' // Durable Task Data Contributor`);
    const properties = assignment ? entries(schedulerBicep, entry(assignment.body, 'properties').at) : new Map<string, Entry>();
    expect(entry(properties, 'roleDefinitionId').value).toBe("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributor)");
    expect(entry(properties, 'principalType').value).toBe("'ServicePrincipal'");
  });

  it('connects the host to the scheduler by the setting the packaged host.json names, with the identity and no secret', () => {
    expect(schedulerHost.extensions.durableTask.storageProvider).toEqual({ type: 'azureManaged', connectionStringName: SCHEDULER_CONNECTION_SETTING });
    expect([...schedulerSettings.keys()]).toEqual([SCHEDULER_CONNECTION_SETTING]);
    const value = unquote(entry(schedulerSettings, SCHEDULER_CONNECTION_SETTING).value);
    const parts = Object.fromEntries(value.split(';').map((part) => part.split('=') as [string, string]));
    // The scheduler's connection string format: its endpoint, managed identity, the user-assigned one's client id.
    expect(parts).toEqual({ Endpoint: '${durableTaskSchedulerEndpoint}', Authentication: 'ManagedIdentity', ClientID: '${identityClientId}' });
    expect(apiParams.get('durableTaskSchedulerEndpoint')?.value).toBe("useScheduler ? durableTaskScheduler.outputs.endpoint : ''");
    expect(params(apiBicep).get('durableTaskSchedulerEndpoint')).toBe("''");
    expect(apiModule && entry(apiModule.body, 'dependsOn').value.replace(/\s+/g, ' ')).toBe('[ rbac durableTaskScheduler ]');
    // Azure Storage's app keeps host.json as it is, and gets no scheduler setting.
    expect(allSettings).not.toContain(SCHEDULER_CONNECTION_SETTING);
    for (const { path, text } of bicepFiles) {
      for (const [, mode = ''] of text.matchAll(/Authentication=(\w+)/g)) expect(mode, path).toBe('ManagedIdentity');
    }
  });

  it('drops the storage queue role only with the scheduler, and keeps blob (host, timer lock, package, archive) and table', () => {
    expect(entries(mainBicep, entry(modules.find((m) => m.symbol === 'rbac')?.body ?? new Map<string, Entry>(), 'params').at).get('taskHubInStorage')?.value).toBe('!useScheduler');
    const headers = (symbol: string) => rbacBicep.slice(rbacBicep.indexOf(`resource ${symbol} `)).split('\n')[0] ?? '';
    expect(headers('queueDataContributor')).toContain('= if (taskHubInStorage) {');
    for (const symbol of ['blobDataOwner', 'tableDataContributor', 'metricsPublisher']) expect(headers(symbol), symbol).toMatch(/' = \{$/);
  });

  it('outputs the backend, and with the scheduler its endpoint, the task hub\'s dashboard URL and the hub\'s id', () => {
    expect(mainBicep).toMatch(/^output DURABLE_BACKEND string = durableBackend$/m);
    for (const [output, moduleOutput] of [
      ['DURABLE_TASK_SCHEDULER_ENDPOINT', 'endpoint'],
      ['DURABLE_TASK_SCHEDULER_DASHBOARD_URL', 'dashboardUrl'],
      ['DURABLE_TASK_HUB_ID', 'taskHubId'],
    ] as const) {
      expect(mainBicep, output).toMatch(new RegExp(`^output ${output} string = useScheduler \\? durableTaskScheduler\\.outputs\\.${moduleOutput} : ''$`, 'm'));
    }
    expect(schedulerBicep).toMatch(/^output endpoint string = scheduler\.properties\.endpoint$/m);
    expect(schedulerBicep).toMatch(/^output dashboardUrl string = taskHub\.properties\.dashboardUrl$/m);
    expect(schedulerBicep).toMatch(/^output taskHubId string = taskHub\.id$/m);
  });

  it('docs/deploy.md says when to pick which, how to choose it, and which role opens the dashboard', () => {
    const readme = read('docs/deploy.md');
    for (const text of [
      'azd env set DURABLE_BACKEND DurableTaskScheduler',
      'azd env get-value DURABLE_TASK_SCHEDULER_DASHBOARD_URL',
      'Durable Task Data Reader',
      'Durable Task Data Contributor',
      'DURABLE_TASK_SCHEDULER_SKU',
    ]) {
      expect(readme).toContain(text);
    }
  });
});

describe('Event Grid: an optional topic for run events (issue 23)', () => {
  const eventGridBicep = read('infra/app/event-grid.bicep');
  const module = declarations(mainBicep, 'module').find((m) => m.type === 'app/event-grid.bicep');
  const moduleParams = module ? entries(mainBicep, entry(module.body, 'params').at) : new Map<string, Entry>();
  const file = (JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> }).parameters;

  it('is off by default: the azd parameter eventGridTopic (EVENT_GRID_TOPIC) makes the topic', () => {
    expect(params(mainBicep).get('eventGridTopic')).toBe('false');
    expect(file.eventGridTopic?.value).toBe('${EVENT_GRID_TOPIC=false}');
    expect(mainBicep).toMatch(/^module eventGrid 'app\/event-grid\.bicep' = if \(eventGridTopic\) \{/m);
  });

  it('sets EVENT_GRID_TOPIC_ENDPOINT to the topic made, else to a topic of the deployer\'s (eventGridTopicEndpoint)', () => {
    expect(appSettings.get('EVENT_GRID_TOPIC_ENDPOINT')?.value).toBe('eventGridTopic ? eventGrid.outputs.endpoint : eventGridTopicEndpoint');
    expect(params(mainBicep).get('eventGridTopicEndpoint')).toBe("''");
    expect(file.eventGridTopicEndpoint?.value).toBe('${EVENT_GRID_TOPIC_ENDPOINT}');
    expect(outputs(eventGridBicep)).toContain('endpoint');
  });

  it('takes CloudEvents 1.0 with Entra ID only, no keys, and lets the app\'s identity send and nothing else', () => {
    expect(eventGridBicep).toMatch(/resource topic 'Microsoft\.EventGrid\/topics@[\d-]+' = \{/);
    expect(eventGridBicep).toMatch(/inputSchema:\s*'CloudEventSchemaV1_0'/);
    expect(eventGridBicep).toMatch(/disableLocalAuth:\s*true/);
    expect(moduleParams.get('principalId')?.value).toBe('identity.outputs.principalId');
    const roleIds = [...eventGridBicep.matchAll(/'([0-9a-f-]{36})'/g)].map((m) => m[1]);
    expect(roleIds).toEqual([BUILT_IN_ROLES['EventGrid Data Sender']]);
    expect(eventGridBicep).toMatch(/scope:\s*topic\b/);
  });
});

describe('no secrets', () => {
  const texts = [
    ...filesUnder(INFRA).map((file) => ({ path: relative(ROOT, file), text: readFileSync(file, 'utf8') })),
    { path: 'azure.yaml', text: read('azure.yaml') },
  ];
  const forbidden: [string, RegExp][] = [
    ['an account key', /AccountKey/i],
    ['a key listing', /list\w*Keys\s*\(/i],
    ['a SAS', /list(?:Account|Service)Sas|SharedAccessSignature|[?&]sig=/i],
    ['a storage connection string', /DefaultEndpointsProtocol|AzureWebJobsStorage['"]?\s*:/i],
    ['a key property', /primaryKey|secondaryKey|primaryConnectionString|InstrumentationKey=/i],
    ['a secret parameter', /@secure\(\)/],
    ['a credential listing', /listCredentials|listClusterAdminCredential|listClusterUserCredential\(/i],
  ];

  it.each(forbidden)('no file holds %s', (_what, pattern) => {
    for (const { path, text } of texts) expect(text, path).not.toMatch(pattern);
  });

  it('turns off shared keys, public blobs, old TLS, local auth and basic-auth publishing', () => {
    const storage = read('infra/app/storage.bicep');
    expect(storage).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(storage).toMatch(/allowBlobPublicAccess:\s*false/);
    expect(storage).toMatch(/minimumTlsVersion:\s*'TLS1_2'/);
    expect(read('infra/app/monitoring.bicep')).toMatch(/DisableLocalAuth:\s*true/);
    expect([...apiBicep.matchAll(/basicPublishingCredentialsPolicies'[^{]*\{[^}]*allow:\s*false/g)]).toHaveLength(2);
    expect(apiBicep).toMatch(/authentication:\s*\{\s*type:\s*'UserAssignedIdentity'/);
  });
});

describe('composition', () => {
  const mainParams = params(mainBicep);
  const modules = declarations(mainBicep, 'module');

  it('main.parameters.json gives only parameters of main.bicep, and every one without a default', () => {
    const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> };
    const given = Object.keys(file.parameters);
    for (const name of given) expect(mainParams.has(name), `${name} is not a param of main.bicep`).toBe(true);
    for (const [name, fallback] of mainParams) {
      if (fallback === undefined) expect(given, `${name} has no default and no value`).toContain(name);
    }
    expect(file.parameters).toMatchObject({
      environmentName: { value: '${AZURE_ENV_NAME}' },
      location: { value: '${AZURE_LOCATION}' },
    });
  });

  it('every module exists and is given exactly the parameters it declares and requires', () => {
    expect(modules.length).toBeGreaterThanOrEqual(6);
    for (const { symbol, type: path, body } of modules) {
      const file = join(INFRA, path);
      expect(existsSync(file), `${symbol}: ${path} does not exist`).toBe(true);
      const declared = params(readFileSync(file, 'utf8'));
      const given = [...entries(mainBicep, entry(body, 'params').at).keys()];
      for (const name of given) expect(declared.has(name), `${symbol} gives ${path} an unknown "${name}"`).toBe(true);
      for (const [name, fallback] of declared) {
        if (fallback === undefined) expect(given, `${symbol} does not give ${path} its "${name}"`).toContain(name);
      }
    }
  });

  it('every module output main.bicep reads is declared by that module', () => {
    const pathOf = new Map(modules.map((m) => [m.symbol, m.type]));
    for (const [, symbol = '', output = ''] of mainBicep.matchAll(/\b(\w+)\.outputs\.(\w+)/g)) {
      const path = pathOf.get(symbol);
      expect(path, `${symbol} is not a module`).toBeDefined();
      expect(outputs(readFileSync(join(INFRA, path ?? ''), 'utf8')), `${path ?? ''} has no output ${output}`).toContain(output);
    }
  });

  it('names resources from abbreviations.json and a token of subscription, environment and location', () => {
    expect(mainBicep).toContain("loadJsonContent('./abbreviations.json')");
    expect(mainBicep).toContain('uniqueString(subscription().id, environmentName, location)');
    const abbreviations = JSON.parse(read('infra/abbreviations.json')) as Record<string, string>;
    for (const [, key = ''] of mainBicep.matchAll(/\babbrs\.(\w+)/g)) expect(Object.keys(abbreviations)).toContain(key);
  });

  it('creates the run-logs container for the logs archive', () => {
    expect(mainBicep).toMatch(/^var logsContainerName = 'run-logs'$/m);
    expect(read('infra/app/storage.bicep')).toMatch(/resource logsContainer 'containers' = \{\s*name: logsContainerName/);
  });
});

describe('infra/kubernetes/rbac.yaml', () => {
  const text = read('infra/kubernetes/rbac.yaml');
  const docs = loadAllYaml(text) as (V1Role | V1RoleBinding)[];
  const role = docs.find((d): d is V1Role => d.kind === 'Role');
  const binding = docs.find((d): d is V1RoleBinding => d.kind === 'RoleBinding');

  it('grants exactly the verbs the gateway methods need (GATEWAY_PERMISSIONS), in one namespace', () => {
    expect(docs).toHaveLength(2);
    expect(role?.metadata?.namespace).toBe('NAMESPACE');
    const granted = (role?.rules ?? []).flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).flatMap((resource) =>
          rule.verbs.map((verb) => `${group === '' ? 'core' : group}/${resource}:${verb}`),
        ),
      ),
    );
    const expected = requiredPermissions().map((p) => `${p.apiGroup === '' ? 'core' : p.apiGroup}/${p.resource}:${p.verb}`);
    expect([...granted].sort()).toEqual([...expected].sort());
    expect(granted).toHaveLength(new Set(granted).size);
    expect(role?.rules?.every((rule) => rule.resourceNames === undefined && rule.nonResourceURLs === undefined)).toBe(true);
  });

  it('binds that Role, in the same namespace, to the identity by its object id', () => {
    expect(binding?.metadata?.namespace).toBe('NAMESPACE');
    expect(binding?.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role?.metadata?.name });
    expect(binding?.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'PRINCIPAL_OBJECT_ID' }]);
  });

  it('its apply command, here and in docs/deploy.md, reads an output main.bicep declares', () => {
    const readme = read('docs/deploy.md');
    expect(readme).toContain('infra/kubernetes/rbac.yaml');
    expect(readme).toContain('kubectl apply -f -');
    const names = [...`${text}\n${readme}`.matchAll(/azd env get-value (\w+)/g)].map((m) => m[1] ?? '');
    expect(names).toContain('API_IDENTITY_PRINCIPAL_ID');
    for (const name of names) expect(outputs(mainBicep), name).toContain(name);
  });
});

describe('App Service Authentication (infra/app/auth.bicep)', () => {
  const authBicep = read('infra/app/auth.bicep');
  const module = declarations(mainBicep, 'module').find((m) => m.type === 'app/auth.bicep');

  /** The entries of the object literal assigned to `var <name>` in auth.bicep. */
  const authVar = (name: string) => objectAfter(authBicep, new RegExp(`^var ${name}\\s*=\\s*`, 'm'));
  const authResource = declarations(authBicep, 'resource').find((r) => r.type.startsWith('Microsoft.Web/sites/config@'));

  it('follows the azd parameter easyAuthEnabled, and tells the app to trust its headers only when it is on', () => {
    expect(params(mainBicep).get('easyAuthEnabled')).toBe('false');
    expect(module && entry(module.body, 'params').value).toMatch(/enabled:\s*easyAuthEnabled\n/);
    expect(entry(appSettings, 'EASY_AUTH_ENABLED').value).toBe('string(easyAuthEnabled)');
    expect(module && entry(module.body, 'params').value).toMatch(/allowedClientIds:\s*easyAuthAllowedClientIds/);
    const parameters = (JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> }).parameters;
    expect(Object.keys(parameters)).toEqual(expect.arrayContaining(['easyAuthEnabled', 'easyAuthClientId', 'easyAuthAllowedClientIds']));
  });

  it('is deployed whether on or off, and turned off writes authsettingsV2 with the platform disabled', () => {
    // ARM's incremental mode (azd's) "leaves unchanged resources that exist in the resource group but aren't
    // specified in the template" (learn.microsoft.com/azure/azure-resource-manager/templates/deployment-modes):
    // a module left out when the parameter is false would leave Easy Auth on in Azure.
    expect(module?.symbol).toBe('auth');
    expect(mainBicep).toMatch(/^module auth 'app\/auth\.bicep' = \{$/m);
    expect(params(authBicep).get('enabled')).toBeUndefined();
    expect(params(authBicep).has('enabled')).toBe(true);
    expect(authResource && entry(authResource.body, 'name').value).toBe("'authsettingsV2'");
    expect(authResource && entry(authResource.body, 'parent').value).toBe('site');
    expect(authResource && entry(authResource.body, 'properties').value).toBe('enabled ? authOn : authOff');
    const off = authVar('authOff');
    expect([...off.keys()]).toEqual(['platform']);
    expect(entry(entries(authBicep, entry(off, 'platform').at), 'enabled').value).toBe('false');
    expect(entry(entries(authBicep, entry(authVar('authOn'), 'platform').at), 'enabled').value).toBe('true');
    // Off needs no app registration: the azd variables may be unset.
    expect(params(authBicep).get('clientId')).toBe("''");
    expect(params(authBicep).get('allowedClientIds')).toBe('[]');
  });

  it('lets requests without a token on to the function-key check and admits tokens of the listed applications only', () => {
    expect(authBicep).toMatch(/unauthenticatedClientAction: 'AllowAnonymous'/);
    expect(authBicep).toMatch(/requireAuthentication: false/);
    expect(authBicep).toMatch(/defaultAuthorizationPolicy: \{\s*allowedApplications: allowedClientIds\s*\}/);
    expect(authBicep).toMatch(/tokenStore: \{\s*enabled: false\s*\}/);
  });
});

describe('the custom Azure role for Azure-RBAC clusters (infra/app/rbac-aks.bicep)', () => {
  const rbacAks = read('infra/app/rbac-aks.bicep');
  const definitions = declarations(rbacAks, 'resource').filter((r) => r.type.startsWith('Microsoft.Authorization/roleDefinitions@'));
  const definition = definitions[0];
  const properties = definition ? entries(rbacAks, entry(definition.body, 'properties').at) : new Map<string, Entry>();

  function assignmentsOf(src: string): (Block & { properties: Map<string, Entry> })[] {
    return declarations(src, 'resource')
      .filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@'))
      .map((r) => ({ ...r, properties: entries(src, entry(r.body, 'properties').at) }));
  }

  /** The string literals of the Bicep array assigned to `var <name>`. */
  function arrayVar(name: string): string[] {
    const match = new RegExp(`^var ${name}\\s*=\\s*\\[`, 'm').exec(rbacAks);
    if (!match) throw new Error(`no var ${name} = [...]`);
    const open = match.index + match[0].length - 1;
    return [...rbacAks.slice(open, closing(rbacAks, open)).matchAll(/'([^']*)'/g)].map((m) => m[1] ?? '');
  }

  /**
   * The data action the AKS authorizer checks for a permission, as guard's `getResourceAndAction` and
   * `getActionName` build it (Azure/guard, authz/providers/azure/rbac/checkaccessreqhelper.go, commit 067de57):
   * `<group>/<resource>/read|write|delete`, with the subresource dropped, except `pods/exec`, which is
   * `pods/exec/action`. So `pods/log` get is checked as `pods/read`. (Newer guard versions send the subresource
   * along as an attribute, for role conditions, but the action stays the resource's.)
   */
  function dataAction(p: KubePermission): string {
    const action = { get: 'read', list: 'read', watch: 'read', create: 'write', update: 'write', patch: 'write', delete: 'delete' }[p.verb];
    const [resource = '', subresource] = p.resource.split('/');
    const tail = resource === 'pods' && subresource === 'exec' ? 'pods/exec/action' : `${resource}/${action}`;
    return `Microsoft.ContainerService/managedClusters/${p.apiGroup === '' ? '' : `${p.apiGroup}/`}${tail}`;
  }

  /**
   * The DataActions Microsoft.ContainerService publishes for the resources the app touches, from "Azure permissions
   * for Containers" (MicrosoftDocs/azure-docs, articles/role-based-access-control/permissions/containers.md,
   * commit 03adcc3): ARM refuses a custom role whose data action is not published. Pods have read, write, delete
   * and exec/action; there is no pods/log action.
   */
  const PUBLISHED_DATA_ACTIONS = new Set(
    [
      ...['batch/jobs', 'batch/cronjobs', 'apps/deployments', 'pods', 'events'].flatMap((r) => ['read', 'write', 'delete'].map((a) => `${r}/${a}`)),
      'pods/exec/action',
    ].map((a) => `Microsoft.ContainerService/managedClusters/${a}`),
  );

  it('is one custom role, named by a guid of the cluster, created only for Azure-RBAC clusters', () => {
    expect(definitions).toHaveLength(1);
    expect(rbacAks).toMatch(/^var runnerRole = guid\(cluster\.id, '[^']+'\)$/m);
    expect(definition && entry(definition.body, 'name').value).toBe('runnerRole');
    expect(rbacAks).toMatch(/resource runnerRoleDefinition 'Microsoft\.Authorization\/roleDefinitions@[^']+' = if \(azureRbac\) \{/);
    expect(entry(properties, 'type').value).toBe("'CustomRole'");
    expect(entry(properties, 'roleName').value).toContain('${uniqueString(cluster.id)}');
    expect(entry(properties, 'assignableScopes').value.replace(/\s+/g, '')).toBe('[resourceGroup().id]');
  });

  it('holds exactly the data actions GATEWAY_PERMISSIONS implies and no control-plane action', () => {
    const permissions = entry(properties, 'permissions').value.replace(/\s+/g, ' ');
    expect(permissions).toBe('[ { actions: [] notActions: [] dataActions: runnerDataActions notDataActions: [] } ]');
    const granted = arrayVar('runnerDataActions');
    expect([...granted].sort()).toEqual([...new Set(requiredPermissions().map(dataAction))].sort());
    expect(granted).toHaveLength(new Set(granted).size);
  });

  it('names only data actions Microsoft.ContainerService publishes, so ARM accepts the role', () => {
    for (const action of arrayVar('runnerDataActions')) expect(PUBLISHED_DATA_ACTIONS, action).toContain(action);
  });

  it('reads pod logs with pods/read, the action the AKS authorizer checks for the pods/log subresource', () => {
    const logs = requiredPermissions().find((p) => p.resource === 'pods/log');
    expect(logs).toEqual({ apiGroup: '', resource: 'pods/log', verb: 'get' });
    expect(logs && dataAction(logs)).toBe('Microsoft.ContainerService/managedClusters/pods/read');
    expect(arrayVar('runnerDataActions')).toContain('Microsoft.ContainerService/managedClusters/pods/read');
  });

  it('reaches no Secret, no wildcard and nothing outside Jobs, CronJobs, pods and events (and reading Deployments)', () => {
    for (const action of arrayVar('runnerDataActions')) {
      expect(action).not.toMatch(/secrets|\*|exec|attach|portforward|serviceaccounts|impersonate/i);
      expect(action).toMatch(/^Microsoft\.ContainerService\/managedClusters\/((batch\/jobs|batch\/cronjobs|pods|events)\/(read|write|delete)|apps\/deployments\/read)$/);
    }
  });

  it('is what each allowed namespace (or the cluster, for "*") is assigned, and RBAC Writer is gone', () => {
    const byName = new Map(assignmentsOf(rbacAks).map((a) => [a.symbol, a]));
    for (const [symbol, scope, condition] of [
      ['namespaceRunner', 'allowedNamespace[i]', 'azureRbac && !allNamespaces'],
      ['clusterRunner', 'cluster', 'azureRbac && allNamespaces'],
    ] as const) {
      const assignment = byName.get(symbol);
      expect(assignment, symbol).toBeDefined();
      expect(assignment && entry(assignment.body, 'scope').value).toBe(scope);
      expect(assignment && entry(assignment.properties, 'roleDefinitionId').value).toBe("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', runnerRole)");
      expect(assignment && entry(assignment.body, 'dependsOn').value.replace(/\s+/g, '')).toBe('[runnerRoleDefinition]');
      expect(rbacAks).toContain(`resource ${symbol} `);
      expect(rbacAks.slice(rbacAks.indexOf(`resource ${symbol} `)).split('\n')[0]).toContain(`if (${condition})`);
    }
    // The Cluster User Role stays: listClusterUserCredentials is how the app finds the server and CA.
    expect(byName.get('clusterUser') && entry(byName.get('clusterUser')?.properties ?? new Map<string, Entry>(), 'roleDefinitionId').value).toBe(
      "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', clusterUserRole)",
    );
    for (const { path, text } of bicepFiles) expect(text.toLowerCase(), path).not.toContain('a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb');
  });
});

describe('networking for private clusters and authorized IP ranges', () => {
  const mainParams = params(mainBicep);
  const networkBicep = read('infra/app/network.bicep');
  const apiModule = declarations(mainBicep, 'module').find((m) => m.symbol === 'api');
  const apiParams = apiModule ? entries(mainBicep, entry(apiModule.body, 'params').at) : new Map<string, Entry>();

  it('takes an optional subnet and an optional static outbound IP, both off by default', () => {
    expect(mainParams.get('virtualNetworkSubnetId')).toBe("''");
    expect(mainParams.get('staticOutboundIp')).toBe('false');
    const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    expect(file.parameters.virtualNetworkSubnetId?.value).toBe('${APP_SUBNET_ID}');
    expect(file.parameters.staticOutboundIp?.value).toBe('${STATIC_OUTBOUND_IP=false}');
  });

  it('integrates the app with the given subnet, else with its own when a static IP is asked for, else with none', () => {
    expect(mainBicep).toMatch(/^var createNetwork = staticOutboundIp && empty\(virtualNetworkSubnetId\)$/m);
    expect(apiParams.get('virtualNetworkSubnetId')?.value).toBe(
      "!empty(virtualNetworkSubnetId) ? virtualNetworkSubnetId : (createNetwork ? network.outputs.subnetId : '')",
    );
    expect(params(apiBicep).get('virtualNetworkSubnetId')).toBe("''");
    const site = declarations(apiBicep, 'resource').find((r) => r.type.startsWith('Microsoft.Web/sites@'));
    const properties = site ? entries(apiBicep, entry(site.body, 'properties').at) : new Map<string, Entry>();
    expect(properties.get('virtualNetworkSubnetId')?.value).toBe('empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId');
  });

  it('makes the VNet, NAT gateway and static public IP only when asked, and outputs the IP to allow', () => {
    const network = declarations(mainBicep, 'module').find((m) => m.type === 'app/network.bicep');
    expect(network?.symbol).toBe('network');
    expect(mainBicep).toMatch(/^module network 'app\/network\.bicep' = if \(createNetwork\) \{/m);
    expect(mainBicep).toMatch(/^output OUTBOUND_IP string = createNetwork \? network\.outputs\.outboundIp : ''$/m);
    const resources = new Map(declarations(networkBicep, 'resource').map((r) => [r.symbol, r]));
    const ip = resources.get('publicIp');
    expect(ip && entries(networkBicep, entry(ip.body, 'properties').at).get('publicIPAllocationMethod')?.value).toBe("'Static'");
    const nat = resources.get('natGateway');
    expect(nat && entry(nat.body, 'properties').value).toMatch(/publicIpAddresses:\s*\[\s*\{\s*id:\s*publicIp\.id\s*\}\s*\]/);
    const vnet = resources.get('vnet');
    const subnet = vnet ? entry(vnet.body, 'properties').value : '';
    expect(subnet).toMatch(/natGateway:\s*\{\s*id:\s*natGateway\.id\s*\}/);
    // The delegation Flex Consumption's VNet integration requires.
    expect(subnet).toMatch(/serviceName:\s*'Microsoft\.App\/environments'/);
    expect(networkBicep).toMatch(/^output subnetId string = '\$\{vnet\.id\}\/subnets\/app'$/m);
    expect(networkBicep).toMatch(/^output outboundIp string = publicIp\.properties\.ipAddress$/m);
  });

  it('docs/deploy.md says how a private FQDN resolves and which IP to allow in authorizedIPRanges', () => {
    const readme = read('docs/deploy.md');
    expect(readme).toContain('privatelink.<region>.azmk8s.io');
    expect(readme).toContain('serverFqdn');
    expect(readme).toContain('APP_SUBNET_ID');
    expect(readme).toContain('STATIC_OUTBOUND_IP');
    expect(readme).toContain('azd env get-value OUTBOUND_IP');
    expect(readme).toContain('authorizedIPRanges');
  });
});

describe("the deployer's rights", () => {
  it('docs/deploy.md names what the per-cluster role deployment needs in each cluster\'s resource group, and the roles that give it', () => {
    const aks = declarations(mainBicep, 'module').find((m) => m.type === 'app/rbac-aks.bicep');
    expect(aks && entry(aks.body, 'scope').value).toBe('resourceGroup(c.subscriptionId, c.resourceGroup)');
    const readme = read('docs/deploy.md');
    for (const text of [
      'Microsoft.Resources/deployments/write',
      'Microsoft.Authorization/roleAssignments/write',
      '**Owner**',
      '**Contributor**',
      '**Role Based Access Control Administrator**',
    ]) {
      expect(readme).toContain(text);
    }
  });
});
