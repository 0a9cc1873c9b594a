// azd's predeploy hook. On Flex Consumption the platform, not azd, writes the package to the deployment
// container, as the app's identity; right after a first provision that identity's new Storage Blob Data Owner
// role has often not reached the storage service yet, and the deploy fails once with BlobUploadFailed (403).
// Nobody outside Azure can act as the app's identity to test its access, so this waits until the role
// assignment is old enough to have propagated, and only that long: later deploys do not wait at all.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AzureDeveloperCliCredential } from '@azure/identity';

/** Storage Blob Data Owner: the role that lets the app's identity write the deployment container. */
export const BLOB_DATA_OWNER = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'; // Storage Blob Data Owner

/**
 * How old a new assignment must be before the deploy: reported first deploys succeed when retried about a
 * minute after the failure (Azure/azure-dev#8026), a few minutes after the assignment was made.
 */
export const SETTLE_MS = 5 * 60 * 1000;

export interface RoleAssignment {
  properties: { roleDefinitionId: string; principalId: string; createdOn?: string };
}

export type Verdict = { wait: 'none' } | { wait: 'until'; at: Date } | { wait: 'missing' };

/**
 * When the deploy may start, given the role assignments on the storage account: at once when the principal's
 * Storage Blob Data Owner assignment is older than the settle time, at its creation plus the settle time when
 * it is newer, and never ("missing") when there is none, since the deploy would then fail for good.
 */
export function storageRoleVerdict(assignments: readonly RoleAssignment[], principalId: string, now: Date, settleMs = SETTLE_MS): Verdict {
  const owner = assignments
    .filter((a) => a.properties.principalId === principalId && a.properties.roleDefinitionId.toLowerCase().endsWith(`/${BLOB_DATA_OWNER}`))
    .map((a) => Date.parse(a.properties.createdOn ?? ''));
  if (owner.length === 0) return { wait: 'missing' };
  // An assignment without a readable creation time is treated as brand new: waiting once is the safe mistake.
  const newest = Math.max(...owner.map((t) => (Number.isNaN(t) ? now.getTime() : t)));
  // A creation time ahead of this machine's clock (skew) must not stretch the wait past the settle time.
  const ready = Math.min(newest, now.getTime()) + settleMs;
  return ready <= now.getTime() ? { wait: 'none' } : { wait: 'until', at: new Date(ready) };
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not in the azd environment: run azd provision first`);
  return value;
}

async function listAssignments(): Promise<RoleAssignment[]> {
  const arm = required('AZURE_RESOURCE_MANAGER_ENDPOINT').replace(/\/?$/, '/');
  const scope = `subscriptions/${required('AZURE_SUBSCRIPTION_ID')}/resourceGroups/${required('AZURE_RESOURCE_GROUP')}/providers/Microsoft.Storage/storageAccounts/${required('STORAGE_ACCOUNT_NAME')}`;
  const principalId = required('API_IDENTITY_PRINCIPAL_ID');
  // The same sign-in azd deploys with (azd auth login), in the tenant the app was provisioned in.
  const tenantId = process.env.AZURE_TENANT_ID;
  const credential = new AzureDeveloperCliCredential(tenantId ? { tenantId } : {});
  const token = await credential.getToken(`${arm}.default`);
  const url = `${arm}${scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent(`assignedTo('${principalId}')`)}`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${token.token}` } });
  if (!response.ok) throw new Error(`listing role assignments on ${scope} answered ${String(response.status)}: ${await response.text()}`);
  return ((await response.json()) as { value: RoleAssignment[] }).value;
}

async function main(): Promise<void> {
  const principalId = required('API_IDENTITY_PRINCIPAL_ID');
  let verdict: Verdict;
  try {
    verdict = storageRoleVerdict(await listAssignments(), principalId, new Date());
  } catch (error) {
    // A check that cannot run must not block a deploy that may well work.
    console.warn(`Could not check the app identity's storage role (${error instanceof Error ? error.message : String(error)}).`);
    console.warn('If the deploy fails with BlobUploadFailed (403), wait a minute and run `azd deploy` again.');
    return;
  }
  if (verdict.wait === 'missing') {
    throw new Error(
      `The app's identity (${principalId}) has no Storage Blob Data Owner role on ${required('STORAGE_ACCOUNT_NAME')}, so the platform cannot write the package: run azd provision.`,
    );
  }
  if (verdict.wait === 'none') return;
  const seconds = Math.ceil((verdict.at.getTime() - Date.now()) / 1000);
  console.log(
    `The app identity's storage role was assigned moments ago; waiting ${String(seconds)} s for it to take effect, so the upload is not refused (BlobUploadFailed 403).`,
  );
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, seconds * 1000)));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
