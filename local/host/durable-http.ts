import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { LocalDurable } from '../durable/runtime.js';

/**
 * The slice of the Durable Functions extension's HTTP API that durable-functions' own DurableClient calls when
 * the host gives it an `rpcBaseUrl` (durable-functions lib/src/durableClient/DurableClient.js): start an
 * orchestration, read an instance's status, query instances, raise an event, over LocalDurable. It lets the
 * local runtime run an app loaded from a bundle, whose functions with a Durable client binding can only be called through the
 * package's wrapper (there is no own handler to hand the local client to), so the bundled client's HTTP
 * code (axios inside the bundle) is exercised too. Answers as the extension's: 202 with the id for a start,
 * 200 with the status, 404 for an unknown instance, 202 for an event, 410 for an event to a finished instance
 * (which durable-functions treats as success, as it does on the host).
 */
export interface DurableHttpApi {
  /** What the host puts in the durableClient input binding. */
  readonly clientData: Record<string, unknown>;
  close(): Promise<void>;
}

const FINISHED = new Set(['Completed', 'Failed', 'Terminated']);

async function text(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, body?: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Answer {
  status: number;
  body?: unknown;
}

async function answer(durable: LocalDurable, method: string, url: URL, body: string): Promise<Answer> {
  const path = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const [root, kind, id, verb, event] = path;
  const notFound = { status: 404, body: { message: `no ${method} ${url.pathname}` } };
  if (root !== 'durabletask') return notFound;
  if (method === 'GET' && kind === 'instances' && id === undefined) {
    // The instances query (getStatusBy); of its filters, the runtime statuses are what the app asks by.
    const statuses = url.searchParams.get('runtimeStatus')?.split(',').filter(Boolean) ?? [];
    return { status: 200, body: await durable.getStatusBy({ runtimeStatus: statuses }) };
  }
  if (id === undefined) return notFound;
  if (method === 'POST' && kind === 'orchestrators') {
    const instanceId = path[3];
    try {
      const started = await durable.startNew(id, { ...(instanceId ? { instanceId } : {}), input: body === '' ? undefined : JSON.parse(body) });
      return { status: 202, body: { id: started } };
    } catch (err) {
      return { status: 409, body: { message: message(err) } };
    }
  }
  if (kind !== 'instances') return notFound;
  const status = await durable.getStatus(id).catch(() => undefined);
  if (method === 'GET' && verb === undefined) return status ? { status: 200, body: status } : { status: 404 };
  if (method !== 'POST' || verb !== 'raiseEvent' || event === undefined) return notFound;
  if (!status) return { status: 404 };
  if (FINISHED.has(status.runtimeStatus)) return { status: 410 };
  try {
    await durable.raiseEvent(id, event, body === '' ? undefined : JSON.parse(body));
    return { status: 202 };
  } catch (err) {
    return { status: 500, body: { message: message(err) } };
  }
}

export async function startDurableHttpApi(durable: () => LocalDurable): Promise<DurableHttpApi> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const { status, body } = await answer(durable(), req.method ?? 'GET', new URL(req.url ?? '/', 'http://127.0.0.1'), await text(req));
      json(res, status, body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  const webhooks = `${origin}/runtime/webhooks/durabletask`;
  const clientData = {
    taskHubName: 'local',
    creationUrls: {
      createNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]`,
      createAndWaitOnNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}`,
    },
    managementUrls: {
      id: 'INSTANCEID',
      statusQueryGetUri: `${webhooks}/instances/INSTANCEID`,
      sendEventPostUri: `${webhooks}/instances/INSTANCEID/raiseEvent/{eventName}`,
      terminatePostUri: `${webhooks}/instances/INSTANCEID/terminate?reason={text}`,
      rewindPostUri: `${webhooks}/instances/INSTANCEID/rewind?reason={text}`,
      purgeHistoryDeleteUri: `${webhooks}/instances/INSTANCEID`,
      suspendPostUri: `${webhooks}/instances/INSTANCEID/suspend?reason={text}`,
      resumePostUri: `${webhooks}/instances/INSTANCEID/resume?reason={text}`,
    },
    baseUrl: webhooks,
    requiredQueryStringParameters: '',
    rpcBaseUrl: `${origin}/durabletask/`,
  };
  return {
    clientData,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
