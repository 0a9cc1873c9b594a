import tls from 'node:tls';

import { afterEach, describe, expect, inject, it } from 'vitest';

import { KubeconfigFileSource } from '../../src/clients/credentials.js';
import { ClientNodeGateway } from '../../src/clients/kube.js';

const connect = tls.connect;
afterEach(() => {
  tls.connect = connect;
});

/** Counts the TLS connections this process opens (undici looks tls.connect up on each connect). */
function countConnections(): () => number {
  let opened = 0;
  tls.connect = ((...args: Parameters<typeof connect>) => {
    opened++;
    return connect(...args);
  }) as typeof connect;
  return () => opened;
}

describe('ClientNodeGateway on a real API server', () => {
  it('reuses its kept-alive connection instead of opening one per request', async () => {
    const gateway = new ClientNodeGateway(new KubeconfigFileSource(inject('kubeconfigPath')), 30_000);
    const opened = countConnections();
    for (let i = 0; i < 20; i++) await gateway.listCronJobs('default');
    // client-node alone gives each request a new undici Agent, so each request opened its own connection.
    expect(opened()).toBe(1);
  });
});
