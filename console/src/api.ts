import { type Problem, problemOf } from './logic/answers.ts';

/** Kept for the browser tab only: closing it forgets the key. */
const KEY_STORAGE = 'aks-job-runner.functionKey';

/** The API's root: the console is served at <prefix>/console/, the API under <prefix>/. */
export const apiRoot = new URL('../', window.location.href.split('#')[0]);

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

/** The development host writes its key into the page; the app in Azure never does. */
function devKey(): string | null {
  return document.querySelector<HTMLMetaElement>('meta[name="aks-job-runner-dev-key"]')?.content ?? null;
}

let key: string | null = devKey() ?? sessionStorage.getItem(KEY_STORAGE);
let onUnauthorized: () => void = () => undefined;

export function currentKey(): string | null {
  return key;
}
export function isDevKey(): boolean {
  return devKey() !== null;
}
export function setKey(value: string | null): void {
  key = value;
  if (value === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, value);
}
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export function apiUrl(path: string, query: Query = {}): URL {
  const url = new URL(path.replace(/^\//, ''), apiRoot);
  for (const [name, value] of Object.entries(query)) if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, String(value));
  return url;
}

async function send(method: string, path: string, query: Query, body: unknown, headers: Record<string, string>): Promise<Response> {
  const response = await fetch(apiUrl(path, query), {
    method,
    headers: { ...(key ? { 'x-functions-key': key } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status === 401) onUnauthorized();
  return response;
}

/** A JSON call; a 4xx or 5xx (other than those listed in `accept`) throws ApiError with the API's message. */
export async function call<T>(method: string, path: string, options: { query?: Query; body?: unknown; headers?: Record<string, string>; accept?: number[] } = {}): Promise<Answer<T>> {
  const response = await send(method, path, options.query ?? {}, options.body, options.headers ?? {});
  const text = await response.text();
  if (!response.ok && !(options.accept ?? []).includes(response.status)) throw new ApiError(problemOf(response.status, text));
  let parsed: unknown = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(problemOf(response.status, text));
    }
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** A text call (logs). */
export async function callText(path: string, query: Query = {}): Promise<Answer<string>> {
  const response = await send('GET', path, query, undefined, {});
  const text = await response.text();
  if (!response.ok) throw new ApiError(problemOf(response.status, text));
  return { status: response.status, headers: response.headers, body: text };
}

/**
 * A streamed text call (a followed log): `onText` gets each piece of text as it arrives, until the answer ends
 * or `signal` aborts it. A 4xx or 5xx throws ApiError with the API's message.
 */
export async function streamText(path: string, query: Query, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(apiUrl(path, query), { headers: key ? { 'x-functions-key': key } : {}, signal });
  if (response.status === 401) onUnauthorized();
  if (!response.ok || !response.body) throw new ApiError(problemOf(response.status, await response.text()));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) onText(next.value);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
