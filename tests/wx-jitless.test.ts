// node-flags: --jitless
// arch: aarch64
// Under --jitless V8 keeps no writable+executable memory of its own, so here the
// W^X audit covers the whole process: nothing dlbind does may add such a mapping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHF_EXECINSTR, dlcreate, dlfunc, dlsym } from '../src/index.js';
import { aliasSpaceKinds } from '../src/loader/alias-space.js';
import { readMappings, writableExecutableMappings } from '../src/loader/procmaps.js';
import { ADD, rets } from './helpers/code.js';
import { assertNoWX } from './helpers/wx.js';

test.after.each(() => assertNoWX('after the test'));

test('no mapping of the process is ever writable and executable', () => {
  assert.ok(process.execArgv.includes('--jitless'));
  assert.equal(writableExecutableMappings(), [], 'before any library');
  const lib = dlcreate();
  const libs = [lib, dlcreate(undefined, { text: 1 << 16 })];
  assert.equal(writableExecutableMappings(), [], 'after dlcreate');
  const add = lib.addFunction('add', ADD);
  assert.equal(writableExecutableMappings(), [], 'after writing code');
  assert.is(dlfunc(dlsym(lib, 'add')!, 'int add(int, int)')(20, 22), 42);
  const more = lib.alloc(64, SHF_EXECINSTR);
  lib.write(more, rets(64));
  lib.free(more);
  assert.equal(writableExecutableMappings(), [], 'after alloc, write, free');
  // The text mapping ld.so made is executable and never writable; the alias is writable and never executable.
  const text = readMappings().find((m) => m.start <= add && add < m.end)!;
  assert.is(text.perms, 'r-xp');
  const alias = readMappings().find((m) => m.start <= lib.alias(add) && lib.alias(add) < m.end)!;
  assert.is(alias.perms, 'rw-s');
  // No WebAssembly here: the aliases' space is a plain reservation with a koffi view (src/loader/alias-space.ts).
  assert.equal(aliasSpaceKinds(), ['view']);
  for (const l of libs) l.delete();
  assert.equal(writableExecutableMappings(), [], 'after delete');
});

test.run();
