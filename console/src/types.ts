/** The API's answers, as far as the console reads them (docs/http-api.md and docs/cronjobs.md). */
export interface ClusterList {
  default: string | null;
  items: { alias: string; namespaces: string[] }[];
}

export interface LastRun {
  time: string;
  result: string;
  runId: string;
}

export interface CronJobItem {
  name: string;
  namespace: string;
  cluster: string;
  image: string | null;
  params: Record<string, string | null>;
  referencedParams: string[];
  schedule: string;
  timeZone: string | null;
  suspended: boolean;
  lastScheduleTime: string | null;
  lastRun?: LastRun | null;
  activeRuns?: string[];
  scheduler?: 'cluster' | 'app';
  nextRunTime?: string | null;
  warnings?: unknown[];
}

export interface JobItem {
  name: string;
  namespace: string;
  image: string | null;
  params: Record<string, string | null>;
  referencedParams: string[];
  /** Names the command substitutes as $(NAME), which a run may not set (the source's allow-env does not name them). */
  commandParams?: string[];
}

export interface Page<T> {
  items: T[];
  continue: string | null;
}

export interface NextRun {
  utc: string;
  local: string;
}

export interface Preview {
  next: NextRun[];
  description: string;
  timeZone: string;
  message?: string;
}

export interface ContainerView {
  name: string;
  image: string | null;
  command: string[] | null;
  args: string[] | null;
  /** null values: DISCOVERY_SHOW_ENV_VALUES is off. */
  env: Record<string, string | null>;
  referencedEnv: string[];
}

export interface CronJobRun {
  runId: string;
  status: string;
  reason: string;
  trigger: string;
  startTime: string | null;
  completionTime: string | null;
  live?: boolean;
  archived?: boolean;
  statusUrl?: string;
  logsUrl?: string;
}

/** Who started a run (never a key); null for runs no caller started: the scheduler's, the cluster's, kubectl's. */
export type Starter = { kind: 'key' } | { kind: 'entra'; appId: string; objectId: string } | { kind: 'unknown' } | null;

/** One run of GET /runs (docs/http-api.md, "A namespace's runs"). */
export interface RunItem {
  runId: string;
  cluster: string;
  namespace: string;
  source: { kind: string; name: string } | null;
  trigger: string;
  startedBy: Starter;
  status: string;
  reason: string;
  failureKind: string | null;
  startTime: string | null;
  completionTime: string | null;
  durationSeconds: number | null;
  live: boolean;
  archived: boolean;
  statusUrl?: string;
  logsUrl: string;
}

export interface RunList extends Page<RunItem> {
  /** Whether a logs archive is configured (without one, only live Jobs are listed). */
  archive: boolean;
}

export interface CronJobDetail {
  name: string;
  namespace: string;
  cluster: string;
  resourceVersion: string;
  scheduler: 'cluster' | 'app';
  source: { deployment: string } | { httpCall: string } | null;
  settings: {
    schedule: string;
    timeZone: string | null;
    suspend: boolean;
    concurrencyPolicy: string;
    backoffLimit: number | null;
    activeDeadlineSeconds: number | null;
    containers: ContainerView[];
  };
  preview: { schedule: string; timeZone: string; description: string; nextRuns: NextRun[] } | null;
  lastRun: LastRun | null;
  activeRuns: string[];
  latestRuns: CronJobRun[];
  warnings: unknown[];
}

export interface DeploymentItem {
  name: string;
  replicas: number;
  containers: { name: string; image: string | null; env: string[]; referencedEnv: string[] }[];
}

export interface StartAnswer {
  runId: string;
  statusUrl: string;
  cancelUrl: string;
  monitorUrl: string | null;
}

export interface Snapshot {
  runId: string;
  status: string;
  reason: string;
  message: string;
  cluster: string;
  namespace: string;
  jobName: string;
  source: { kind: string; name: string };
  startTime: string | null;
  completionTime: string | null;
  pods: { active: number; ready: number; succeeded: number; failed: number };
  monitorUrl: string | null;
  outputs: Record<string, unknown>;
  trigger?: { kind: string; scheduledTime?: string; of?: string };
  observedAt: string;
  /** On Failed and Cancelled runs: why (docs/http-api.md, "Why a run failed"). */
  failure?: RunFailure;
  failureKind?: string;
  exitCode?: number | null;
  /** Who is told the verdict, and how each delivery stands (host only: a URL is a secret). */
  subscriptions?: Subscription[];
  /** One per Job of a run that may retry on disruption or did, the current one last (docs/http-api.md). */
  attempts?: RunAttempt[];
}

/** One Job of a run that may retry on disruption: its failure (null while it runs or when it succeeded) and times. */
export interface RunAttempt {
  job: string;
  failure: RunFailure | null;
  startTime: string | null;
  completionTime: string | null;
}

/** One event's delivery to a subscription. */
export interface Delivery {
  state: string;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
  deadLetter: string | null;
}

/** A subscription: its top-level delivery fields are the last event's (the verdict's when it asks for that). */
export interface Subscription extends Delivery {
  id: string;
  host: string;
  events: string[];
  format: string;
  /** Each event the subscription asks for ("started", "finished") and how its delivery stands. */
  deliveries?: Partial<Record<string, Delivery>>;
}

export interface RunFailure {
  kind: string;
  exitCode: number | null;
  signal: string | null;
  container: string | null;
  pod: string | null;
  node: string | null;
  attempt: number | null;
  reason: string;
  message: string;
  at: string | null;
  rule?: number;
  logTail?: string;
}

/** A container as the dry run's manifest has it: what "fills in" from the Deployment. */
export interface ManifestContainer {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface CreateAnswer {
  dryRun: boolean;
  url: string;
  cronJob: { spec: { jobTemplate: { spec?: { template: { spec?: { containers: ManifestContainer[] } } } } } };
}
