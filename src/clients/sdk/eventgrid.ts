// What the app uses of @azure/eventgrid, for src/clients/lazy.ts (named, so the bundle keeps only what it needs).
export { EventGridPublisherClient } from '@azure/eventgrid';
