// Stands in for the module the Functions worker supplies at run time, so that registrations made with
// `app.*` are captured instead of skipped (the library's "test mode").
'use strict';
const registrations = [];
// Hooks by name (log, preInvocation...), so the local runtime can run the log hooks as the worker does.
const hooks = {};
module.exports = {
  registrations,
  hooks,
  setProgrammingModel() {},
  getProgrammingModel() {
    return { name: 'test', version: '0' };
  },
  registerFunction(metadata, handler) {
    registrations.push({ metadata, handler });
    return { dispose() {} };
  },
  registerHook(name, callback) {
    const list = (hooks[name] ??= []);
    list.push(callback);
    return {
      dispose() {
        const at = list.indexOf(callback);
        if (at >= 0) list.splice(at, 1);
      },
    };
  },
  // The worker's log, which @azure/functions' app.setup checks for before it turns HTTP streaming on (it came with
  // streaming, in worker 3.9 / host 4.28: a worker without it is refused with "HTTP streaming requires ...").
  log() {},
};
