// What the app uses of @azure/arm-containerservice, for src/clients/lazy.ts (named, so the bundle keeps only what it needs).
export { ContainerServiceClient } from '@azure/arm-containerservice';
