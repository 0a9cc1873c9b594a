import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import type { LinkSettings } from '../../src/config.js';
import { apiBase } from '../../src/http/links.js';

const APP = 'https://func-aksjobs.azurewebsites.net/api/jobs/batch/nightly/runs';
const plain: LinkSettings = { publicBaseUrl: undefined, trustForwardedHeaders: false };
const trusting: LinkSettings = { publicBaseUrl: undefined, trustForwardedHeaders: true };
const gateway: LinkSettings = { publicBaseUrl: 'https://apim.contoso.com/aks-jobs', trustForwardedHeaders: true };

function request(headers: Record<string, string> = {}, url = APP): HttpRequest {
  return new HttpRequest({ method: 'POST', url, headers });
}

describe('apiBase', () => {
  const cases: { name: string; settings: LinkSettings; headers?: Record<string, string>; url?: string; expected: string }[] = [
    { name: 'the request origin when nothing is configured', settings: plain, expected: 'https://func-aksjobs.azurewebsites.net/api' },
    {
      name: 'forwarded headers are ignored unless trusted',
      settings: plain,
      headers: { 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example;proto=http' },
      expected: 'https://func-aksjobs.azurewebsites.net/api',
    },
    {
      name: 'PUBLIC_BASE_URL wins over everything',
      settings: gateway,
      headers: { 'x-forwarded-host': 'fd.contoso.com', 'x-forwarded-prefix': '/jobs' },
      expected: 'https://apim.contoso.com/aks-jobs',
    },
    {
      name: 'X-Forwarded-Host, -Proto and -Prefix, as Front Door or a policy sets them',
      settings: trusting,
      headers: { 'x-forwarded-host': 'jobs.contoso.com', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/batch/' },
      url: 'http://10.1.2.3:7071/api/runs/x',
      expected: 'https://jobs.contoso.com/batch/api',
    },
    {
      name: 'RFC 7239 Forwarded, quoted, first element of several proxies',
      settings: trusting,
      headers: { forwarded: 'for=192.0.2.60;proto=https;host="jobs.contoso.com:8443", for=10.0.0.1;host=inner.local' },
      expected: 'https://jobs.contoso.com:8443/api',
    },
    {
      name: 'Forwarded takes precedence over X-Forwarded-Host',
      settings: trusting,
      headers: { forwarded: 'host=std.contoso.com', 'x-forwarded-host': 'legacy.contoso.com' },
      expected: 'https://std.contoso.com/api',
    },
    {
      name: 'the first of comma-separated X-Forwarded-Host values (the client-facing proxy)',
      settings: trusting,
      headers: { 'x-forwarded-host': 'outer.contoso.com, inner.contoso.com' },
      expected: 'https://outer.contoso.com/api',
    },
    {
      name: 'a host with a path, a user or spaces is ignored',
      settings: trusting,
      headers: { 'x-forwarded-host': 'evil.example/x?', forwarded: 'host="a@b"' },
      expected: 'https://func-aksjobs.azurewebsites.net/api',
    },
    {
      name: 'a proto other than http or https is ignored',
      settings: trusting,
      headers: { 'x-forwarded-host': 'jobs.contoso.com', 'x-forwarded-proto': 'javascript' },
      expected: 'https://jobs.contoso.com/api',
    },
    {
      name: 'a prefix that is not a plain path is ignored',
      settings: trusting,
      headers: { 'x-forwarded-prefix': '//evil.example' },
      expected: 'https://func-aksjobs.azurewebsites.net/api',
    },
  ];

  it.each(cases)('$name', ({ settings, headers, url, expected }) => {
    expect(apiBase(request(headers, url), settings)).toBe(expected);
  });
});
