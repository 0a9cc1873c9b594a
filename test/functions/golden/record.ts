import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { jobRun } from '../../../src/functions/jobRun.js';
import { ORCHESTRATOR_VERSION, ORCHESTRATORS } from '../../../src/functions/names.js';
import { type GoldenHistory, recordScenario, SCENARIOS } from './scenarios.js';

/**
 * `npm run golden:record`: write the golden histories of the orchestrator as it is now, one file per scenario,
 * under golden/v<version>/. Run it once per orchestrator version, when that version ships, and commit the
 * files; never again for the same version (they stand for the instances in flight at a deploy). The golden
 * test only reads them. An existing version's files are not overwritten.
 */
const version = process.argv[2] ?? ORCHESTRATOR_VERSION;
const dir = join(dirname(fileURLToPath(import.meta.url)), `v${version}`);
await mkdir(dir, { recursive: true });
for (const scenario of SCENARIOS) {
  const { executions } = await recordScenario(scenario, jobRun, version === '1' ? undefined : version);
  const golden: GoldenHistory = {
    scenario: scenario.name,
    description: scenario.description,
    orchestrator: ORCHESTRATORS.jobRun,
    ...(version === '1' ? {} : { version }),
    recordedAt: new Date().toISOString(),
    executions,
  };
  const file = join(dir, `${scenario.name}.json`);
  try {
    await writeFile(file, `${JSON.stringify(golden, null, 2)}\n`, { flag: 'wx' });
    console.log(`wrote ${file}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    console.log(`kept ${file}: golden histories are recorded once per version`);
  }
}
