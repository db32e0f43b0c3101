// The W^X audit every live-library test ends with.
import * as assert from 'uvu/assert';
import { type Mapping, readMappings, writableExecutableMappings } from '../../src/loader/procmaps.js';

/**
 * Writable+executable mappings that are not V8's own anonymous JIT regions.
 * dlbind only ever maps files (a memfd or a backing file), so any violation of
 * its own shows up here with a path. A test run under --jitless (where V8 has
 * no RWX region at all) checks the whole process instead: see wx-jitless.test.ts.
 */
export function foreignWX(): Mapping[] {
  return writableExecutableMappings().filter((m) => m.path !== '');
}

export function assertNoWX(where = ''): void {
  const bad = process.execArgv.includes('--jitless') ? writableExecutableMappings() : foreignWX();
  assert.equal(
    bad.map((m) => `${m.start.toString(16)}-${m.end.toString(16)} ${m.perms} ${m.path}`),
    [],
    `writable+executable mappings ${where}`,
  );
}

export { readMappings };
