import { app } from '@azure/functions';

import { services } from './services.js';

// Fail fast: a bad or missing setting stops the app at start-up with a message naming it.
services();

app.setup({ enableHttpStream: false });
