// What the app uses of @azure/identity, for src/clients/lazy.ts (named, so the bundle keeps only what it needs).
export { DefaultAzureCredential } from '@azure/identity';
