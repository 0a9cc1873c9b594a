// Stands in for the module the Functions worker supplies at run time, so that registrations made with
// `app.*` are captured instead of skipped (the library's "test mode").
'use strict';
const registrations = [];
module.exports = {
  registrations,
  setProgrammingModel() {},
  getProgrammingModel() {
    return { name: 'test', version: '0' };
  },
  registerFunction(metadata, handler) {
    registrations.push({ metadata, handler });
    return { dispose() {} };
  },
  registerHook() {
    return { dispose() {} };
  },
};
