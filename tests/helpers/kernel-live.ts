// Whether the writer's WebAssembly kernels were instantiated by live libraries alone, then by
// an offline build of 2,047 symbols: prints two booleans as JSON (tests/kernels.test.ts).
import { buildSharedObject, dlcreate } from '../../src/index.js';
import { kernelMemoryBytes } from '../../src/elf/kernels.js';
import { rets } from './code.js';

const lib = dlcreate();
for (let i = 0; i < 300; i++) lib.addFunction(`f${i}`, rets(4));
lib.delete();
buildSharedObject({ symbols: Array.from({ length: 10 }, (_, i) => ({ name: `s${i}`, section: 'text' as const, bytes: [0xc3] })) });
const afterLive = kernelMemoryBytes() > 0;
buildSharedObject({ symbols: Array.from({ length: 2047 }, (_, i) => ({ name: `s${i}`, section: 'text' as const, bytes: [0xc3] })) });
process.stdout.write(`${JSON.stringify({ afterLive, afterBuild: kernelMemoryBytes() > 0 })}\n`);
