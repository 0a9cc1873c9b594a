import { describe, expect, it } from 'vitest';

import {
  CALLBACK_ALLOWED_URLS_SETTING,
  type CallbackPolicy,
  checkCallbackUrl,
  DEFAULT_CALLBACK_ALLOWED_URLS,
  displayUrl,
  formatRule,
  hostsAllowedByName,
  MAX_CALLBACK_URL_LENGTH,
  parseCallbackAllowedUrls,
} from '../../src/core/callback-url.js';

const azure: CallbackPolicy = { allowed: parseCallbackAllowedUrls(undefined), local: false };
const local: CallbackPolicy = { ...azure, local: true };
const contoso: CallbackPolicy = { allowed: parseCallbackAllowedUrls('https://hooks.contoso.com/aks-jobs/, https://ci.contoso.com:8443/notify'), local: false };

/** A callback URL as Logic Apps hands it to an HTTP Webhook action (the shape of Microsoft Learn's examples). */
const LOGIC_APPS =
  'https://prod-03.westus.logic.azure.com:443/workflows/d4690301f3b340de9330256bb2e83974/runs/08584433/actions/Run_job/run?api-version=2016-06-01&sp=%2Fruns%2F08584433%2Factions%2FRun_job%2Frun&sv=1.0&sig=JXbHjs3qzLPDyk-IM_VzsN-WL_mNql3v_uWbBbKgtVk';
const POWER_AUTOMATE =
  'https://0123456789abcdef.09.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/86ffea6392fe4f3f9555f5e8f9b1f06e/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc';

describe('checkCallbackUrl: admitted', () => {
  it.each([
    ['a Logic Apps callback URL, by the default list', LOGIC_APPS, azure],
    ['a Power Automate flow URL, by the default list', POWER_AUTOMATE, azure],
    ['a Logic Apps host in any region, upper case as typed', 'https://PROD-77.NorthEurope.Logic.Azure.com/workflows/x/triggers/manual/run?sig=1', azure],
    ['a listed host under its path prefix', 'https://hooks.contoso.com/aks-jobs/done?token=1', contoso],
    ['a listed whole path with a sub-path', 'https://ci.contoso.com:8443/notify/run-1', contoso],
    ['plain http to 127.0.0.1 in the local runtime, unlisted', 'http://127.0.0.1:41234/hook', local],
    ['plain http to localhost in the local runtime', 'http://localhost:8080/hook', local],
    ['plain http to [::1] in the local runtime', 'http://[::1]:8080/hook', local],
  ])('%s', (_name, raw, policy) => {
    const result = checkCallbackUrl(raw, policy);
    expect(result).toHaveProperty('url');
    if ('url' in result) expect(result.url.href).toBe(new URL(raw).href);
  });

  it('answers the URL as parsed, dot segments resolved, so what was checked is what is sent', () => {
    const result = checkCallbackUrl('https://hooks.contoso.com/aks-jobs/a/../b', contoso);
    expect('url' in result && result.url.pathname).toBe('/aks-jobs/b');
  });
});

/** Every refusal names the setting that would allow it, and never repeats the URL's path or query. */
describe('checkCallbackUrl: refused (SSRF attacks), each naming CALLBACK_ALLOWED_URLS', () => {
  it.each([
    ['plain http in Azure', 'http://prod-03.westus.logic.azure.com/workflows/x?sig=s3cret', azure, /not https/],
    ['plain http to loopback in Azure', 'http://127.0.0.1:8080/hook?sig=s3cret', azure, /not https/],
    ['plain http to a non-loopback host even in the local runtime', 'http://hooks.contoso.com/aks-jobs/x?sig=s3cret', local, /not https/],
    ['https to loopback in Azure (not listed)', 'https://127.0.0.1/hook?sig=s3cret', azure, /not under a URL/],
    ['another scheme', 'ftp://hooks.contoso.com/aks-jobs/x', contoso, /not https/],
    ['file:', 'file:///etc/passwd', contoso, /not https/],
    ['a host that is not listed', 'https://attacker.example/workflows/x?sig=s3cret', azure, /not under a URL/],
    ['a look-alike host ending in the allowed domain without a dot', 'https://evillogic.azure.com/workflows/x?sig=s3cret', azure, /not under a URL/],
    ['the wildcard domain itself', 'https://logic.azure.com/workflows/x?sig=s3cret', azure, /not under a URL/],
    ['an allowed host with a trailing dot', 'https://prod-03.westus.logic.azure.com./workflows/x?sig=s3cret', azure, /not under a URL/],
    ['an allowed host on another port', 'https://prod-03.westus.logic.azure.com:8443/workflows/x?sig=s3cret', azure, /not under a URL/],
    ['an allowed host outside the path prefix', 'https://prod-03.westus.logic.azure.com/admin?sig=s3cret', azure, /not under a URL/],
    ['a path that climbs out of the prefix', 'https://hooks.contoso.com/aks-jobs/../admin?sig=s3cret', contoso, /not under a URL/],
    ['an encoded climb out of the prefix', 'https://hooks.contoso.com/aks-jobs/%2e%2e/admin?sig=s3cret', contoso, /not under a URL/],
    ['a prefix that is a whole path, followed by more name', 'https://ci.contoso.com:8443/notifyX?sig=s3cret', contoso, /not under a URL/],
    ['the IP address of a metadata endpoint', 'https://169.254.169.254/metadata/identity?sig=s3cret', azure, /not under a URL/],
    ['an IPv4-mapped IPv6 literal', 'https://[::ffff:10.0.0.1]/workflows/x?sig=s3cret', azure, /not under a URL/],
    ['a user and password before an allowed host', 'https://me:pw@prod-03.westus.logic.azure.com/workflows/x?sig=s3cret', azure, /user name or password/],
    ['an allowed-looking user before another host', 'https://prod-03.westus.logic.azure.com@attacker.example/workflows/x?sig=s3cret', azure, /user name or password/],
    ['a fragment', 'https://hooks.contoso.com/aks-jobs/x?sig=s3cret#frag', contoso, /fragment/],
    ['an overlong URL', `https://hooks.contoso.com/aks-jobs/${'a'.repeat(MAX_CALLBACK_URL_LENGTH)}?sig=s3cret`, contoso, /characters long/],
    ['not a URL', 'hooks.contoso.com/aks-jobs/x?sig=s3cret', contoso, /not an absolute URL/],
    ['anything, when callbacks are off', 'https://prod-03.westus.logic.azure.com/workflows/x?sig=s3cret', { allowed: parseCallbackAllowedUrls('none'), local: false }, /callbacks are off/],
  ])('%s', (_name, raw, policy, message) => {
    const result = checkCallbackUrl(raw, policy);
    expect(result).not.toHaveProperty('url');
    if ('url' in result) return;
    expect(result.problem).toMatch(message);
    expect(result.setting).toBe(CALLBACK_ALLOWED_URLS_SETTING);
    expect(result.problem).toContain(CALLBACK_ALLOWED_URLS_SETTING);
    expect(result.problem).not.toContain('s3cret');
    expect(result.problem).not.toContain('/workflows/x');
  });

  it('shows a refused URL by scheme and host only', () => {
    const result = checkCallbackUrl('https://attacker.example:9443/deep/path?sig=s3cret', azure);
    expect('problem' in result && result.problem).toContain('https://attacker.example:9443/...');
  });
});

describe('parseCallbackAllowedUrls (CALLBACK_ALLOWED_URLS)', () => {
  it('is the Logic Apps and Power Automate hosts when unset or empty', () => {
    expect(parseCallbackAllowedUrls(undefined).map(formatRule)).toEqual([...DEFAULT_CALLBACK_ALLOWED_URLS]);
    expect(parseCallbackAllowedUrls(' ').map(formatRule)).toEqual([...DEFAULT_CALLBACK_ALLOWED_URLS]);
  });

  it('replaces the defaults with a list, and adds to them with "default"', () => {
    expect(parseCallbackAllowedUrls('https://hooks.contoso.com/a/').map(formatRule)).toEqual(['https://hooks.contoso.com/a/']);
    expect(parseCallbackAllowedUrls('default https://hooks.contoso.com/a/').map(formatRule)).toEqual([
      ...DEFAULT_CALLBACK_ALLOWED_URLS,
      'https://hooks.contoso.com/a/',
    ]);
  });

  it('is empty with "none"', () => {
    expect(parseCallbackAllowedUrls('none')).toEqual([]);
  });

  it.each([
    ['not a URL', 'hooks.contoso.com/a/', /not an absolute URL/],
    ['another scheme', 'ftp://hooks.contoso.com/', /ftp: is not https/],
    ['a user', 'https://me@hooks.contoso.com/', /user or password/],
    ['a query', 'https://hooks.contoso.com/a?b=1', /query or fragment/],
    ['a wildcard inside the host', 'https://hooks.*.contoso.com/', /only as the whole first label/],
    ['a wildcard over a top-level domain', 'https://*.com/', /two labels/],
    ['plain http to a non-loopback host', 'http://hooks.contoso.com/', /only to loopback/],
    ['"none" with other entries', 'none https://hooks.contoso.com/', /must stand alone/],
  ])('refuses %s, naming the entry', (_name, text, message) => {
    expect(() => parseCallbackAllowedUrls(text)).toThrow(message);
  });
});

describe('hostsAllowedByName', () => {
  it('is the hosts listed in full, never a wildcard\'s', () => {
    expect(hostsAllowedByName(parseCallbackAllowedUrls('default https://hooks.internal.contoso.com/a/ https://hooks.internal.contoso.com/b/ https://[::1]:8443/x'))).toEqual([
      'hooks.internal.contoso.com',
      '[::1]',
    ]);
    expect(hostsAllowedByName(parseCallbackAllowedUrls(undefined))).toEqual([]);
  });
});

describe('displayUrl', () => {
  it.each([
    [LOGIC_APPS, 'https://prod-03.westus.logic.azure.com'],
    ['https://u:p@hooks.contoso.com:8443/a/b?sig=1#f', 'https://hooks.contoso.com:8443'],
    ['http://[::1]:8080/x?sig=1', 'http://[::1]:8080'],
  ])('%s → %s', (raw, shown) => {
    expect(displayUrl(new URL(raw))).toBe(shown);
  });
});
