import { describe, expect, it } from 'vitest';

import { hashOf, type Location, parseHash } from '../../console/src/logic/routes.js';

describe('console pages in the URL fragment', () => {
  it.each<{ hash: string; location: Location }>([
    { hash: '', location: { route: { page: 'cronjobs' }, cluster: null, namespace: null } },
    { hash: '#/cronjobs?cluster=dev&namespace=batch', location: { route: { page: 'cronjobs' }, cluster: 'dev', namespace: 'batch' } },
    { hash: '#/new?namespace=batch', location: { route: { page: 'create' }, cluster: null, namespace: 'batch' } },
    { hash: '#/cronjobs/nightly-report?namespace=batch', location: { route: { page: 'cronjob', name: 'nightly-report' }, cluster: null, namespace: 'batch' } },
    { hash: '#/runs/hello-abc123', location: { route: { page: 'run', runId: 'hello-abc123' }, cluster: null, namespace: null } },
    { hash: '#/jobs', location: { route: { page: 'jobs' }, cluster: null, namespace: null } },
  ])('$hash', ({ hash, location }) => {
    expect(parseHash(hash)).toEqual(location);
    expect(parseHash(hashOf(location))).toEqual(location);
  });

  it.each(['#/cronjobs/Not_A_Name', '#/runs/..%2F..', '#/whatever'])('an unknown or malformed page %s is the CronJobs list', (hash) => {
    expect(parseHash(hash).route).toEqual({ page: 'cronjobs' });
  });
});

describe('the runs page in the URL fragment (issue 22 item 6)', () => {
  it.each<{ hash: string; location: Location }>([
    { hash: '#/runs?cluster=dev&namespace=batch', location: { route: { page: 'runs', status: null }, cluster: 'dev', namespace: 'batch' } },
    { hash: '#/runs?namespace=batch&status=Failed', location: { route: { page: 'runs', status: 'Failed' }, cluster: null, namespace: 'batch' } },
    { hash: '#/runs?status=Failed%2CCancelled', location: { route: { page: 'runs', status: 'Failed,Cancelled' }, cluster: null, namespace: null } },
  ])('$hash', ({ hash, location }) => {
    expect(parseHash(hash)).toEqual(location);
    expect(parseHash(hashOf(location))).toEqual(location);
  });

  it.each(['#/runs?status=Done', '#/runs?status=failed', '#/runs?status=Failed,'])('a status the runs route would refuse (%s) is dropped from the page, not sent', (hash) => {
    expect(parseHash(hash).route).toEqual({ page: 'runs', status: null });
  });

  it('a run id after /runs/ is still the run page', () => {
    expect(parseHash('#/runs/report-abcdefgh12?namespace=batch').route).toEqual({ page: 'run', runId: 'report-abcdefgh12' });
  });
});
