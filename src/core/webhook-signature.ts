/**
 * Signatures of the requests the app pushes (issue 23), as the Standard Webhooks specification defines them
 * (standard-webhooks/standard-webhooks, spec/standard-webhooks.md, "Signature scheme" and "Webhook headers"):
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, keyed with the
 * bytes of a `whsec_<base64>` secret, one signature per secret, space-separated, so a secret can be rotated
 * without a receiver missing a request. A receiver verifies with any Standard Webhooks library or the snippet in
 * docs/push.md.
 */
import { createHmac } from 'node:crypto';

/** The app setting that holds the signing secrets. */
export const WEBHOOK_SIGNING_SECRET_SETTING = 'WEBHOOK_SIGNING_SECRET';

const SECRET_PREFIX = 'whsec_';
/** The specification's bounds on a symmetric secret: at least 24 bytes (192 bits), at most 64 (512 bits). */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
/** Beyond two, rotation has nothing left to gain: the old secret and the new one. */
const MAX_SECRETS = 2;

/** One signing key. Its bytes are held in a private field, so logging or serialising the config never shows them. */
export class SigningSecret {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** base64 HMAC-SHA256 of `text` (UTF-8). */
  hmac(text: string): string {
    return createHmac('sha256', this.#key).update(text, 'utf8').digest('base64');
  }

  toJSON(): string {
    return `${SECRET_PREFIX}[${this.#key.length} bytes]`;
  }
}

/**
 * WEBHOOK_SIGNING_SECRET: one `whsec_<base64>` secret, or during a rotation two, the new one first, separated by
 * a space or a comma; each request is signed with every one. Unset: no secret (callbacks carry no signature).
 * Throws with a message that names the setting and says how to make a secret, never the value.
 */
export function parseSigningSecrets(text: string | undefined): SigningSecret[] {
  const entries = (text ?? '').split(/[\s,]+/).filter((entry) => entry !== '');
  if (entries.length > MAX_SECRETS) throw new Error(`${entries.length} secrets given; at most ${MAX_SECRETS} (the new one and, while receivers move to it, the old one)`);
  return entries.map((entry, index) => {
    const which = entries.length > 1 ? `secret ${index + 1}` : 'the secret';
    const how = `a Standard Webhooks secret is "whsec_" followed by 24 to 64 random bytes in base64, e.g. "whsec_$(openssl rand -base64 32)"`;
    if (entry.startsWith('@Microsoft.KeyVault(')) {
      throw new Error(`${which} is a Key Vault reference the platform did not resolve; give the app's identity the role Key Vault Secrets User on the vault, and check the reference`);
    }
    if (!entry.startsWith(SECRET_PREFIX)) throw new Error(`${which} does not start with "${SECRET_PREFIX}": ${how}`);
    const encoded = entry.slice(SECRET_PREFIX.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) throw new Error(`${which} is not base64 after "${SECRET_PREFIX}": ${how}`);
    const key = Buffer.from(encoded, 'base64');
    if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) throw new Error(`${which} is ${key.length} bytes long: ${how}`);
    return new SigningSecret(key);
  });
}

export type WebhookHeaders = Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>;

/**
 * The Standard Webhooks headers of one request. `id` stays the same on every attempt of the same event (the
 * receiver's de-duplication key); `timestamp` is the attempt's (seconds since the epoch, or a Date), so a retry is
 * signed anew. `body` must be the exact bytes sent. Throws when there is no secret, or when the id or timestamp
 * holds a `.` (the specification: they must not, or two messages could sign alike).
 */
export function signWebhook({
  id,
  timestamp,
  body,
  secret,
}: {
  id: string;
  timestamp: number | Date;
  body: string;
  /** Parsed secrets (Config's), or `whsec_` texts; several sign one request each. */
  secret: string | SigningSecret | readonly (string | SigningSecret)[];
}): WebhookHeaders {
  const given: readonly (string | SigningSecret)[] = typeof secret === 'string' || secret instanceof SigningSecret ? [secret] : secret;
  const secrets = given.flatMap((s) => (typeof s === 'string' ? parseSigningSecrets(s) : [s]));
  if (secrets.length === 0) throw new Error(`no signing secret: set ${WEBHOOK_SIGNING_SECRET_SETTING}`);
  if (id === '' || /[.\s]/.test(id)) throw new Error(`webhook id "${id}" is empty or holds a dot or white space`);
  const seconds = typeof timestamp === 'number' ? timestamp : Math.floor(timestamp.getTime() / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new Error(`webhook timestamp ${seconds} is not whole seconds since the epoch`);
  const signed = `${id}.${seconds}.${body}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': secrets.map((s) => `v1,${s.hmac(signed)}`).join(' '),
  };
}
