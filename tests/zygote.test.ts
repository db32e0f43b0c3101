// arch: aarch64
// The zygote's bytes: the first library of a shape is written by the ELF writer, later ones copy
// the pages it wrote (found again with SEEK_DATA/SEEK_HOLE) and write their own name. Each must
// be byte for byte what the writer makes for that name.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dlcreate, dlsym } from '../src/index.js';
import { glibcRelocatesDynamic } from '../src/loader/live-object.js';
import { requireSupportedPlatform } from '../src/loader/platform.js';
import { preparedZygote, resolveCapacity, writeZygote } from '../src/loader/zygote.js';

const OPTIONS = { scale: 1 / 256 };

function prepared(name: string) {
  const arch = requireSupportedPlatform();
  const page = arch === 'aarch64' ? 65536 : 4096;
  return preparedZygote(arch, name, resolveCapacity(OPTIONS, page), glibcRelocatesDynamic());
}

function writerBytes(name: string): Uint8Array {
  const p = prepared(name);
  const out = new Uint8Array(p.layout.fileSize);
  writeZygote(out, p, name);
  return out;
}

/** Offsets where a and b differ. */
function differences(a: Uint8Array, b: Uint8Array): number[] {
  assert.is(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

test('every library of a shape holds exactly the bytes the writer makes for its name, the first and the copies', () => {
  const names = ['libzyg-first.so', 'libzyg-secnd.so', 'libzyg-third.so'];
  const libs = names.map((n) => dlcreate(n, OPTIONS));
  try {
    const files = libs.map((l) => new Uint8Array(readFileSync(l.path)));
    const { layout } = prepared(names[0]!);
    // The live tables publish .dynsym's and the unwind sections' sh_size after the writer, and the GNU table's nbuckets
    // and symoffset (brought down to its first bucket count once ld.so has loaded it): those fields only may differ.
    const gnuHeader = layout.gnuHash!.offset;
    const inShSize = (at: number) =>
      (at >= layout.shoff && (at - layout.shoff) % 64 >= 32 && (at - layout.shoff) % 64 < 40) || (at >= gnuHeader && at < gnuHeader + 8);
    for (let i = 0; i < names.length; i++) {
      const other = differences(files[i]!, writerBytes(names[i]!)).filter((at) => !inShSize(at));
      assert.equal(other, [], `${names[i]}: differs from the writer's bytes outside sh_size fields`);
    }
    // The copies are not the first library's bytes: each carries its own name, where the first has its own (so a stale image would show).
    const nameAt = layout.dynstr.offset + prepared(names[0]!).dynstr.offsetOf(prepared(names[0]!).sonameId);
    const renamed = differences(files[0]!, files[1]!);
    assert.ok(renamed.length > 0 && renamed.every((at) => at >= nameAt && at < nameAt + names[0]!.length), `first vs second differ at ${renamed}`);
    for (const l of libs) assert.is(dlsym(l, 'nothing'), null);
    const f = libs[2]!.addFunction('f', Uint8Array.of(0xc3));
    assert.is(dlsym(libs[2]!, 'f'), f);
  } finally {
    for (const l of libs) l.delete();
  }
});

test.run();
