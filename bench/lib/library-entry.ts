// Everything the bench uses from dlbind: the public API and the libc bindings.
// The runner compiles this file (and all of src/ behind it) into one ESM bundle.
export * from '../../src/index.js';
export { RTLD_LOCAL, RTLD_NOW, getLibc } from '../../src/loader/libc.js';
export { corePlan } from '../../src/loader/live-object.js';
export { setKernelsEnabled } from '../../src/elf/kernels.js';
export { setWasmAliasSpaces } from '../../src/loader/alias-space.js';
