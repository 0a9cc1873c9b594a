import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import { MAX_BODY_BYTES, readJsonBody } from '../../src/http/problem.js';

/**
 * With HTTP streaming on (src/setup.ts) the worker hands a handler the client's own request stream: a fetch
 * Request whose body is the proxied request, chunked, no length known (@azure/functions createStreamRequest:
 * `new Request(url, { body: proxyReq, duplex: 'half', ... })`). Every route that takes a body reads it through
 * readJsonBody; these requests are made that way.
 */
function streamed(chunks: string[], pulled: { count: number }): HttpRequest {
  const encoder = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      pulled.count++;
      const chunk = chunks[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(encoder.encode(chunk));
    },
  });
  const nativeRequest = new Request('http://127.0.0.1/api/jobs/batch/nightly/runs', { method: 'POST', body, duplex: 'half', headers: { 'content-type': 'application/json' } });
  return new HttpRequest({ nativeRequest, params: {} } as unknown as ConstructorParameters<typeof HttpRequest>[0]);
}

describe('readJsonBody on a streamed request body', () => {
  it('reads a JSON body that arrives in pieces, with no Content-Length', async () => {
    const pulled = { count: 0 };
    expect(await readJsonBody(streamed(['{"A":', '"1",', '"B":"é"}'], pulled))).toEqual({ A: '1', B: 'é' });
  });

  it('an empty streamed body is no body', async () => {
    expect(await readJsonBody(streamed([], { count: 0 }))).toBeUndefined();
  });

  it('refuses a body past 256 KiB with 413 as soon as it passes the limit, without reading the rest', async () => {
    const pulled = { count: 0 };
    const piece = 'x'.repeat(64 * 1024);
    const chunks = ['{"A":"', ...Array.from({ length: 100 }, () => piece), '"}'];
    await expect(readJsonBody(streamed(chunks, pulled))).rejects.toMatchObject({ status: 413, message: expect.stringContaining(`over ${String(MAX_BODY_BYTES)} bytes`) as unknown });
    // 256 KiB is four pieces and a bit: the stream was stopped there, not read to its 6 MiB end.
    expect(pulled.count).toBeLessThan(10);
  });
});
