// The durable-functions package ships its replay engine and history events without type declarations.
/* eslint-disable @typescript-eslint/no-extraneous-class -- declarations of the package's own classes */
declare module 'durable-functions/lib/src/util/testingUtils.js' {
  import type { InvocationContext } from '@azure/functions';
  import type { OrchestrationHandler } from 'durable-functions';

  export class DurableOrchestrationInput {
    constructor(instanceId?: string, history?: unknown[], input?: unknown);
  }
  export interface OrchestratorState {
    isDone: boolean;
    actions: Record<string, unknown>[][];
    output?: unknown;
    error?: string;
    customStatus?: unknown;
  }
  export function createOrchestrator(
    fn: OrchestrationHandler,
  ): (input: DurableOrchestrationInput, context: InvocationContext) => Promise<OrchestratorState>;
}

declare module 'durable-functions/lib/src/history/OrchestratorStartedEvent.js' {
  export class OrchestratorStartedEvent {
    constructor(options: unknown);
  }
}
declare module 'durable-functions/lib/src/history/ExecutionStartedEvent.js' {
  export class ExecutionStartedEvent {
    constructor(options: unknown);
  }
}
declare module 'durable-functions/lib/src/history/TaskScheduledEvent.js' {
  export class TaskScheduledEvent {
    constructor(options: unknown);
  }
}
declare module 'durable-functions/lib/src/history/TaskCompletedEvent.js' {
  export class TaskCompletedEvent {
    constructor(options: unknown);
  }
}
declare module 'durable-functions/lib/src/history/TaskFailedEvent.js' {
  export class TaskFailedEvent {
    constructor(options: unknown);
  }
}
declare module 'durable-functions/lib/src/history/TimerCreatedEvent.js' {
  export class TimerCreatedEvent {
    constructor(options: unknown);
  }
}
declare module 'durable-functions/lib/src/history/TimerFiredEvent.js' {
  export class TimerFiredEvent {
    constructor(options: unknown);
  }
}
declare module 'durable-functions/lib/src/history/EventRaisedEvent.js' {
  export class EventRaisedEvent {
    constructor(options: unknown);
  }
}
