import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import type { CallerSettings } from '../../src/config.js';
import { ADMIN_ROLE, assertMayAccessRun, type Caller, callerOf, callerScope, startedByOf, UntrustedPrincipalError } from '../../src/http/caller.js';

const on: CallerSettings = { easyAuth: true, policies: {} };
const off: CallerSettings = { easyAuth: false, policies: {} };
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const request = (headers: Record<string, string>, query = '') => new HttpRequest({ method: 'GET', url: `https://app.example/api/runs/x${query}`, headers });

describe('callerOf', () => {
  it.each([
    {
      name: 'a v1 application token (appid, objectidentifier, roles)',
      principal: {
        claims: [
          { typ: 'appid', val: 'app-1' },
          { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'sp-1' },
          { typ: 'roles', val: ADMIN_ROLE },
        ],
      },
      expected: { kind: 'entra', appId: 'app-1', objectId: 'sp-1', roles: [ADMIN_ROLE] },
    },
    {
      name: 'a v2 application token (azp, oid, a custom role claim type)',
      principal: {
        role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
        claims: [
          { typ: 'azp', val: 'app-2' },
          { typ: 'oid', val: 'sp-2' },
          { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'Reader' },
        ],
      },
      expected: { kind: 'entra', appId: 'app-2', objectId: 'sp-2', roles: ['Reader'] },
    },
  ])('reads $name', ({ principal, expected }) => {
    expect(callerOf(request({ 'x-ms-client-principal': encode(principal) }), on)).toEqual(expected);
  });

  it('takes the object id from X-MS-CLIENT-PRINCIPAL-ID when the claims lack it', () => {
    const header = encode({ claims: [{ typ: 'appid', val: 'app-1' }] });
    expect(callerOf(request({ 'x-ms-client-principal': header, 'x-ms-client-principal-id': 'sp-9' }), on)).toMatchObject({ objectId: 'sp-9' });
  });

  it.each<{ name: string; settings: CallerSettings; headers: Record<string, string>; says: string }>([
    { name: 'any principal header while Easy Auth is off', settings: off, headers: { 'x-ms-client-principal-id': 'sp-1' }, says: 'EASY_AUTH_ENABLED' },
    { name: 'an ID header without the principal', settings: on, headers: { 'x-ms-client-principal-name': 'someone' }, says: 'without X-MS-CLIENT-PRINCIPAL' },
    { name: 'a principal that is not base64 JSON', settings: on, headers: { 'x-ms-client-principal': '%%%' }, says: 'not the base64 JSON' },
    { name: 'a principal without appid/azp', settings: on, headers: { 'x-ms-client-principal': encode({ claims: [{ typ: 'oid', val: 'u' }] }) }, says: 'no appid/azp' },
  ])('refuses $name', ({ settings, headers, says }) => {
    expect(() => callerOf(request(headers), settings)).toThrow(UntrustedPrincipalError);
    expect(() => callerOf(request(headers), settings)).toThrow(says);
  });

  it('a request without principal headers is a function-key caller, scoped by a hash of its key', () => {
    const viaHeader = callerOf(request({ 'x-functions-key': 'secret-key' }), on);
    const viaQuery = callerOf(request({}, '?code=secret-key'), off);
    expect(viaHeader).toEqual(viaQuery);
    expect(callerScope(viaHeader)).toMatch(/^key:[0-9a-f]{32}$/);
    expect(callerScope(viaHeader)).not.toContain('secret-key');
    expect(callerScope(callerOf(request({}), off))).toBe('');
    expect(startedByOf(viaHeader)).toEqual({ kind: 'key' });
  });
});

describe('assertMayAccessRun', () => {
  const a: Caller = { kind: 'entra', appId: 'app-a', objectId: 'sp-a', roles: [] };
  const admin: Caller = { kind: 'entra', appId: 'app-x', objectId: 'sp-x', roles: [ADMIN_ROLE] };
  const key: Caller = { kind: 'key', keyScope: 'k' };
  const byA = { kind: 'entra' as const, appId: 'app-a', objectId: 'sp-a' };
  it.each([
    { name: 'the starter', caller: a, starter: byA, allowed: true },
    { name: 'an admin', caller: admin, starter: byA, allowed: true },
    { name: 'another object id of the same app', caller: { ...a, objectId: 'sp-b' }, starter: byA, allowed: false },
    { name: 'a key caller, for an Entra run', caller: key, starter: byA, allowed: false },
    { name: 'a key caller, for a key run', caller: key, starter: { kind: 'key' as const }, allowed: true },
    { name: 'a key caller, for a run recorded before callers were', caller: key, starter: undefined, allowed: true },
    { name: 'an Entra caller, for a key run', caller: a, starter: { kind: 'key' as const }, allowed: false },
  ])('$name: $allowed', ({ caller, starter, allowed }) => {
    const check = () => {
      assertMayAccessRun(caller, 'run-1', starter);
    };
    if (allowed) expect(check).not.toThrow();
    else expect(check).toThrow('no run with id "run-1"');
  });
});
