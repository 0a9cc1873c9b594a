// durable-functions ships modules its declarations leave out (3.5.0): lib/src/app.js exports the wrapper
// `df.app.activity` puts around an activity's handler, lib/src/util/testingUtils.js the orchestrator listener
// `df.app.orchestration` registers. src/clients/durable.ts registers the app's functions through them, and the
// local runtime (local/durable/engine.ts) runs orchestrators through the listener.
declare module 'durable-functions/lib/src/app.js' {
  import type { FunctionHandler } from '@azure/functions';
  import type { ActivityHandler } from 'durable-functions';

  export function wrapActivityHandler(handler: ActivityHandler): FunctionHandler;
}

declare module 'durable-functions/lib/src/util/testingUtils.js' {
  import type { InvocationContext } from '@azure/functions';
  import type { OrchestrationHandler } from 'durable-functions';

  // eslint-disable-next-line @typescript-eslint/no-extraneous-class -- the package's own class, declared
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
