/**
 * Compares src/core/schedule.ts with robfig/cron v3, the CronJob controller's cron library, compiled from the Go
 * module cache (present once `npm run kube -- build` has run): the next times of many schedules in many zones
 * around DST changes, and whether random expressions are accepted. Prints each kind of mismatch once.
 *
 *   npx tsx scripts/robfig-check.ts
 *
 * The mismatches it finds are listed in docs/decisions.md ("Schedules"): robfig's own bugs we do not copy.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nextRunTimes, parseSchedule } from '../src/core/schedule.js';

const ROBFIG = 'github.com/robfig/cron/v3@v3.0.1';

function buildRobfig(): string {
  const modcache = execFileSync('go', ['env', 'GOMODCACHE']).toString().trim();
  const dir = mkdtempSync(join(tmpdir(), 'robfig-check-'));
  cpSync(join(dirname(fileURLToPath(import.meta.url)), 'robfig-check', 'main.go'), join(dir, 'main.go'));
  writeFileSync(join(dir, 'go.mod'), `module robfigcheck\ngo 1.21\nrequire github.com/robfig/cron/v3 v3.0.1\nreplace github.com/robfig/cron/v3 => ${join(modcache, ROBFIG)}\n`);
  execFileSync('go', ['build', '-o', 'robfig', '.'], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOSUMDB: 'off' } });
  return join(dir, 'robfig');
}

interface Case {
  zone: string;
  spec: string;
  from: string;
  count: number;
}

function ours({ zone, spec, from, count }: Case): string {
  try {
    const times = nextRunTimes(parseSchedule(spec, zone === '' ? null : zone), new Date(from), count).map((time) => time.toISOString().replace('.000Z', 'Z'));
    return times.length < count ? [...times, 'ZERO'].join(' ') : times.join(' ');
  } catch (err) {
    return `ERR ${err instanceof Error ? err.message : String(err)}`;
  }
}

let seed = 7;
const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const zones = [
  'UTC', 'Europe/Amsterdam', 'Europe/London', 'Europe/Dublin', 'America/New_York', 'America/Los_Angeles', 'America/St_Johns', 'America/Havana',
  'America/Santiago', 'America/Sao_Paulo', 'America/Asuncion', 'Australia/Sydney', 'Australia/Adelaide', 'Australia/Lord_Howe', 'Pacific/Auckland',
  'Pacific/Chatham', 'Pacific/Apia', 'Asia/Kolkata', 'Asia/Tehran', 'Asia/Jerusalem',
];
const specs = [
  '30 2 * * *', '0 2 * * *', '0 0 * * *', '30 0 * * *', '0 1 * * *', '*/30 * * * *', '15 * * * *', '0 */2 * * *', '0 0 * * 0', '0 0 1 * *',
  '0 1 6 9 *', '0 0 6 9 *', '59 23 * * *', '0 3 * * *', '0 0,12 1 * 1', '30 1-3 * * *', '@daily', '@hourly', '@weekly', '0 0 29 2 *', '0 0 31 2 *',
  '*/7 2 * * *', '0 23 * * 6', '45 23 * * *', '0 0 */2 * 1', '@every 1h', '0 0 1-31 * 1', '0 0 * * */1', '0 0 */1 * 1',
];
const cases: Case[] = [];
for (let i = 0; i < 160; i++) {
  const from = new Date(Date.UTC(2026 + Math.floor(random() * 2), pick([2, 3, 8, 9, 10]), 1 + Math.floor(random() * 30), Math.floor(random() * 24), Math.floor(random() * 60), Math.floor(random() * 60)));
  for (const zone of zones) for (const spec of specs) cases.push({ zone, spec, from: from.toISOString(), count: 8 });
}

// Random expressions, to compare what is accepted (and the first times of what is).
const bounds = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6]] as const;
const names = [[], [], [], ['jan', 'FEB', 'Mar', 'dec'], ['sun', 'MON', 'Fri', 'sat']] as const;
function atom(index: number): string {
  const [low, high] = bounds[index] ?? [0, 0];
  const value = () => (names[index]?.length && random() < 0.3 ? pick(names[index]) : String(random() < 0.05 ? high + 1 : low + Math.floor(random() * (high - low + 1))));
  const roll = random();
  if (roll < 0.15) return pick(['*', '?']);
  if (roll < 0.3) return `*/${String(Math.floor(random() * 8))}`;
  if (roll < 0.5) return value();
  if (roll < 0.7) return `${value()}-${value()}`;
  if (roll < 0.85) return `${value()}-${value()}/${String(Math.floor(random() * 5))}`;
  if (roll < 0.92) return `${value()}/${String(1 + Math.floor(random() * 5))}`;
  return pick(['05', '+3', '*-2', '?/2', '', 'x', '1-', '-1', 'L', '1#2']);
}
const field = (index: number) => Array.from({ length: random() < 0.7 ? 1 : 2 + Math.floor(random() * 2) }, () => atom(index)).join(',');
for (let i = 0; i < 20_000; i++) cases.push({ zone: '', spec: [0, 1, 2, 3, 4].map(field).join(' '), from: '2026-01-01T00:00:00Z', count: 4 });

const robfig = buildRobfig();
const theirs = execFileSync(robfig, { input: `${cases.map((c) => `${c.zone}|${c.spec}|${c.from}|${String(c.count)}`).join('\n')}\n`, maxBuffer: 1 << 30 })
  .toString()
  .split('\n');
const kinds = new Map<string, number>();
cases.forEach((c, i) => {
  const mine = ours(c);
  const reference = theirs[i] ?? '';
  if (mine === reference || (mine.startsWith('ERR') && reference.startsWith('ERR'))) return;
  const kind = `${c.zone}|${c.spec}`;
  if (!kinds.has(kind)) console.log(`${kind} after ${c.from}\n  robfig ${reference}\n  ours   ${mine}`);
  kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
});
console.log(`${String(cases.length)} cases, ${String([...kinds.values()].reduce((a, b) => a + b, 0))} mismatches in ${String(kinds.size)} kinds`);
