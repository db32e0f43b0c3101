// readCore on what is not a core, or on a real core damaged in its headers
// and notes: ElfFormatError or a clean read, never anything else.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CoreSource, findJitLibraries, readCore } from '../src/elf/core.js';
import { ElfFormatError, buildSharedObject } from '../src/index.js';
import { makeCore } from './helpers/core.js';
import { skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-core-damage-');

test('readCore refuses what is not a core, and a damaged core throws ElfFormatError or reads, never anything else', () => {
  const so = buildSharedObject({ soname: 'libx.so', symbols: [{ name: 'f', section: 'text', bytes: [0xc3] }] });
  assert.throws(
    () => readCore(so),
    (e: unknown) => e instanceof ElfFormatError && /not a core file/.test(e.message),
  );
  assert.throws(
    () => readCore(new Uint8Array(10)),
    (e: unknown) => e instanceof ElfFormatError,
  );
  const m = makeCore(join(dir, 'core'));
  if (typeof m === 'string') return skipBecause('core damage test', m);
  const fd = openSync(m.core, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(Math.min(size, 256 * 1024));
    readSync(fd, prefix, 0, prefix.length, 0);
    const truncated = new Uint8Array(prefix.subarray(0, 4096));
    assert.throws(
      () => readCore(truncated),
      (e: unknown) => e instanceof ElfFormatError,
    );
    // The notes follow the program headers; damage lands there and in the headers.
    const notesEnd = Math.min(prefix.length, 0x30000);
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    let failures = 0;
    for (let i = 0; i < 100; i++) {
      const patched = Buffer.from(prefix);
      for (let k = 0; k < 4; k++) patched[random() % notesEnd] = random() & 0xff;
      const source: CoreSource = {
        size,
        read: (offset, length) => {
          if (offset + length <= patched.length) return patched.subarray(offset, offset + length);
          const b = Buffer.alloc(length);
          readSync(fd, b, 0, length, offset);
          return b;
        },
      };
      try {
        findJitLibraries(readCore(source));
      } catch (e) {
        if (!(e instanceof ElfFormatError)) throw e;
        failures++;
      }
    }
    console.log(`  ${failures} of 100 damaged cores refused with ElfFormatError`);
  } finally {
    closeSync(fd);
  }
});

test.run();
