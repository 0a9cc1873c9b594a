// The durable-functions package ships its replay engine and history events without type declarations (its
// orchestrator listener, createOrchestrator, is declared in src/clients/sdk/durable-functions-internals.d.ts, which
// the app's own build needs too).
/* eslint-disable @typescript-eslint/no-extraneous-class -- declarations of the package's own classes */
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
