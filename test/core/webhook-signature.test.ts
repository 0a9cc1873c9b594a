import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';

import { parseSigningSecrets, SigningSecret, signWebhook, WEBHOOK_SIGNING_SECRET_SETTING } from '../../src/core/webhook-signature.js';

/**
 * A receiver's verification, written here from the Standard Webhooks specification alone (spec/standard-webhooks.md,
 * "Signature scheme", "Webhook headers", "Verifying signatures") with WebCrypto rather than node:crypto's HMAC the
 * app uses: the secret's bytes are the base64 after `whsec_`; the signed content is `{id}.{timestamp}.{body}`;
 * the header is a space-separated list of `v1,<base64>`, and one match in constant time is enough.
 */
async function receiverVerifies(secret: string, headers: Record<string, string>, body: string, now: number): Promise<boolean> {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (id === undefined || timestamp === undefined || signatures === undefined) return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp)) > 300) return false;
  const keyBytes = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`)));
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    if (version !== 'v1' || value === undefined) return false;
    const given = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
    return given.length === mac.length && timingSafeEqual(given, mac);
  });
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const BODY = JSON.stringify({ runId: 'nightly-7f3k2', status: 'Success', outputs: { rows: 12 }, note: 'é ✓' });
const NOW = 1_796_601_600;

describe('signWebhook', () => {
  it('matches the specification\'s reference vector (the standardwebhooks library\'s own test)', () => {
    // libraries/javascript/src/index.test.ts of standard-webhooks: this secret, id, timestamp and payload.
    const headers = signWebhook({ id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: 1614265330, body: '{"test": 2432232314}', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('is verified by an independent implementation of the scheme', async () => {
    const secret = newSecret();
    const headers = signWebhook({ id: 'nightly-7f3k2:Success', timestamp: NOW, body: BODY, secret: parseSigningSecrets(secret) });
    expect(headers['webhook-id']).toBe('nightly-7f3k2:Success');
    expect(headers['webhook-timestamp']).toBe(String(NOW));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(await receiverVerifies(secret, headers, BODY, NOW)).toBe(true);
  });

  it('is verified by the standardwebhooks package a receiver would use', () => {
    const secret = newSecret();
    const now = new Date();
    const headers = signWebhook({ id: 'nightly-7f3k2:Failed', timestamp: now, body: BODY, secret });
    expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it.each([
    ['another body', (h: Record<string, string>) => h, `${BODY} `],
    ['another id', (h: Record<string, string>) => ({ ...h, 'webhook-id': 'nightly-7f3k2:Failed' }), BODY],
    ['another timestamp', (h: Record<string, string>) => ({ ...h, 'webhook-timestamp': String(NOW + 1) }), BODY],
  ])('fails verification with %s', async (_name, change, body) => {
    const secret = newSecret();
    const headers = signWebhook({ id: 'nightly-7f3k2:Success', timestamp: NOW, body: BODY, secret });
    expect(await receiverVerifies(secret, change(headers), body, NOW)).toBe(false);
    const lib = new Webhook(secret);
    expect(() => lib.verify(body, { ...change(headers), 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) })).toThrow(WebhookVerificationError);
  });

  it('fails verification with another secret', async () => {
    const headers = signWebhook({ id: 'nightly-7f3k2:Success', timestamp: NOW, body: BODY, secret: newSecret() });
    expect(await receiverVerifies(newSecret(), headers, BODY, NOW)).toBe(false);
  });

  it('signs with the new and the old secret during a rotation, so receivers holding either verify', async () => {
    const [fresh, old] = [newSecret(), newSecret()];
    const headers = signWebhook({ id: 'r:Success', timestamp: NOW, body: BODY, secret: parseSigningSecrets(`${fresh} ${old}`) });
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(await receiverVerifies(fresh, headers, BODY, NOW)).toBe(true);
    expect(await receiverVerifies(old, headers, BODY, NOW)).toBe(true);
    const current = signWebhook({ id: 'r:Success', timestamp: new Date(), body: BODY, secret: parseSigningSecrets(`${fresh} ${old}`) });
    expect(new Webhook(fresh).verify(BODY, current)).toEqual(JSON.parse(BODY));
    expect(new Webhook(old).verify(BODY, current)).toEqual(JSON.parse(BODY));
  });

  it('signs each attempt anew: same id, the attempt\'s timestamp', () => {
    const secret = newSecret();
    const first = signWebhook({ id: 'r:Success', timestamp: NOW, body: BODY, secret });
    const retry = signWebhook({ id: 'r:Success', timestamp: NOW + 60, body: BODY, secret });
    expect(retry['webhook-id']).toBe(first['webhook-id']);
    expect(retry['webhook-signature']).not.toBe(first['webhook-signature']);
  });

  it.each([
    ['an id with a dot', { id: 'a.b' }, /holds a dot/],
    ['an empty id', { id: '' }, /empty/],
    ['a fractional timestamp', { timestamp: 1.5 }, /whole seconds/],
    ['no secret', { secret: [] }, new RegExp(WEBHOOK_SIGNING_SECRET_SETTING)],
  ])('refuses %s', (_name, change, message) => {
    expect(() => signWebhook({ id: 'r:Success', timestamp: NOW, body: BODY, secret: newSecret(), ...change })).toThrow(message);
  });
});

describe('parseSigningSecrets (WEBHOOK_SIGNING_SECRET)', () => {
  it('is empty when unset', () => {
    expect(parseSigningSecrets(undefined)).toEqual([]);
  });

  it('takes one secret, or two during a rotation', () => {
    expect(parseSigningSecrets(newSecret())).toHaveLength(1);
    expect(parseSigningSecrets(`${newSecret()}, ${newSecret()}`)).toHaveLength(2);
  });

  it('never shows the key when serialised or printed', () => {
    const secret = newSecret();
    const [parsed] = parseSigningSecrets(secret);
    expect(parsed).toBeInstanceOf(SigningSecret);
    const shown = `${JSON.stringify({ parsed })} ${JSON.stringify(parsed)}`;
    expect(shown).not.toContain(secret.slice(6, 20));
    expect(JSON.stringify(parsed)).toBe('"whsec_[32 bytes]"');
  });

  it.each([
    ['no whsec_ prefix', randomBytes(32).toString('base64'), /does not start with "whsec_"/],
    ['not base64', 'whsec_not*base64!', /not base64/],
    ['too short (16 bytes)', `whsec_${randomBytes(16).toString('base64')}`, /16 bytes long/],
    ['too long (65 bytes)', `whsec_${randomBytes(65).toString('base64')}`, /65 bytes long/],
    ['three secrets', `${newSecret()} ${newSecret()} ${newSecret()}`, /at most 2/],
    ['an unresolved Key Vault reference', '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/hook)', /Key Vault Secrets User/],
  ])('refuses %s, without repeating it', (_name, text, message) => {
    expect(() => parseSigningSecrets(text)).toThrow(message);
    try {
      parseSigningSecrets(text);
    } catch (err) {
      if (text.length > 20) expect(String(err)).not.toContain(text.slice(6));
    }
  });
});

describe('the receiver snippet of docs/push.md', () => {
  type Verify = (secret: string, headers: Record<string, string>, body: string, now?: number) => boolean;
  async function loadSnippet(): Promise<Verify> {
    const doc = readFileSync(new URL('../../docs/push.md', import.meta.url), 'utf8');
    const code = /## Signatures[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(code, 'docs/push.md has a js block under "Signatures"').toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'push-snippet-'));
    try {
      const file = join(dir, 'verify.mjs');
      writeFileSync(file, code ?? '');
      return ((await import(file)) as { verifyWebhook: Verify }).verifyWebhook;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('accepts what the app signs, with either secret of a rotation, and refuses a change or an old request', async () => {
    const verify = await loadSnippet();
    const [fresh, old] = [newSecret(), newSecret()];
    const headers = signWebhook({ id: 'r:Success', timestamp: NOW, body: BODY, secret: [fresh, old] });
    expect(verify(fresh, headers, BODY, NOW)).toBe(true);
    expect(verify(old, headers, BODY, NOW)).toBe(true);
    expect(verify(newSecret(), headers, BODY, NOW)).toBe(false);
    expect(verify(fresh, headers, `${BODY} `, NOW)).toBe(false);
    expect(verify(fresh, headers, BODY, NOW + 301)).toBe(false);
    expect(verify(fresh, { ...headers, 'webhook-id': 'r:Failed' }, BODY, NOW)).toBe(false);
  });
});
