// What the app uses of @azure/storage-blob, for src/clients/lazy.ts (named, so the bundle keeps only what it needs).
export { BlobServiceClient } from '@azure/storage-blob';
