/**
 * The secrets check of exported telemetry, one for every exporter the app has (OTLP: test/integration/secrets.test.ts;
 * Azure Monitor: test/e2e/azure-monitor.test.ts): what a test knows to be secret (`needles`, by what each is), and
 * the shapes of credentials no test has to know: a bearer token, and the query string of a URL that carries a
 * function key, a SAS or a callback signature.
 */
const SHAPES: Readonly<Record<string, RegExp>> = {
  'an Authorization bearer token': /Bearer [A-Za-z0-9]/,
  'a query string with a key or signature (code, sig, sv, se)': /[?&](code|sig|sv|se)=/,
};

/** What of `needles` (by name) and of the credential shapes `haystack` holds; [] when it holds none. */
export function secretsIn(haystack: string, needles: Readonly<Record<string, string>>): string[] {
  const found = Object.entries(needles)
    .filter(([, needle]) => needle !== '' && haystack.includes(needle))
    .map(([what]) => what);
  for (const [what, shape] of Object.entries(SHAPES)) if (shape.test(haystack)) found.push(what);
  return found;
}
