// Preloaded (--require, through NODE_OPTIONS) under the arm64 Node: `require('koffi')` resolves to
// the copy of koffi in .cache/aarch64/node_modules, beside which @koromix/koffi-linux-arm64 sits,
// so koffi finds its linux_arm64 build there and the project's node_modules stays untouched.
// dlbind loads koffi with require (createRequire), so a CommonJS resolution hook is what applies.
const Module = require('node:module');
const path = require('node:path');

const cache = path.join(__dirname, '..', '..', '.cache', 'aarch64', 'node_modules');
const original = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  if (request === 'koffi' || request.startsWith('koffi/')) return original.call(this, request, parent, isMain, { ...options, paths: [cache] });
  return original.call(this, request, parent, isMain, options);
};
