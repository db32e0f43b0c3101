// The relocation engine (src/elf/object-link.ts) against GNU ld: a .o compiled by
// gcc is linked by planObjectLink/linkObject at chosen addresses, and by ld with a
// linker script that puts every input section at the same address; the bytes must
// agree (GOT-relative fields, whose GOT lies elsewhere, are compared through the
// slot they reach). Calls beyond ±2 GiB / ±128 MiB take a stub, and what cannot
// be linked is refused by name before anything is produced.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ElfLinkError } from '../src/elf/errors.js';
import { type ObjectArena, type ObjectLinkPlan, linkObject, planObjectLink } from '../src/elf/object-link.js';
import { readElf } from '../src/elf/reader.js';
import { have, mustRun, skipBecause, tempDir } from './helpers/tools.js';

const dir = tempDir('dlbind-objlink-');

const SOURCE = `
#include <stddef.h>
static int counter = 5;
int table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
int *table_ptr = &table[3];
const char *const names[] = {"zero", "one", "two"};
static __attribute__((noinline)) int scale(int x) { return x * 3 + counter; }
__attribute__((noinline)) int twice(int x) { return scale(x) * 2; }
int pick(int k) {
  switch (k) {
  case 0: return 11; case 1: return twice(k); case 2: return 37; case 3: return table[k];
  case 4: return 58; case 5: return (int)names[k - 4][0]; case 6: return 91; default: return -1;
  }
}
long addr_of_counter(void) { return (long)&counter; }
int bump(void) { return ++counter + *table_ptr; }
`;

/** GOTPCREL, GOTPCRELX, REX_GOTPCRELX; ADR_GOT_PAGE, LD64_GOT_LO12_NC. */
const GOT_TYPES = new Set([9, 41, 42, 311, 312]);

type Tool = { cc: string; ld: string; flags: string[] };
const TOOLS: Record<'x86_64' | 'aarch64', Tool> = {
  x86_64: { cc: 'gcc', ld: 'ld', flags: ['-Wa,-mrelax-relocations=no'] },
  aarch64: { cc: 'aarch64-linux-gnu-gcc', ld: 'aarch64-linux-gnu-ld', flags: [] },
};

function compile(tool: Tool, name: string, source: string, extra: string[]): Uint8Array {
  const src = join(dir, `${name}.c`);
  const obj = join(dir, `${name}.o`);
  writeFileSync(src, source);
  mustRun(tool.cc, ['-c', '-O2', ...extra, ...tool.flags, '-o', obj, src]);
  return readFileSync(obj);
}

/** ld's output for the same placement: one output section per input section, at the address the plan gave it. */
function linkWithLd(tool: Tool, name: string, plan: ObjectLinkPlan, addresses: Record<ObjectArena, bigint>): ReturnType<typeof readElf> {
  const lines = ['SECTIONS {'];
  for (const s of plan.sections.values()) {
    lines.push(`  .s${s.index} 0x${(addresses[s.arena] + BigInt(s.offset)).toString(16)} : { *(${s.name}) }`);
  }
  lines.push('  .got 0x10000000 : { *(.got) *(.got.plt) }', '  /DISCARD/ : { *(.note.*) *(.comment) }', '}');
  const script = join(dir, `${name}.ld`);
  writeFileSync(script, lines.join('\n'));
  const out = join(dir, `${name}.elf`);
  mustRun(tool.ld, ['-static', '--no-relax', '-e', '0', '-z', 'norelro', '-T', script, '-o', out, join(dir, `${name}.o`)]);
  return readElf(readFileSync(out));
}

function bytesOf(file: ReturnType<typeof readElf>, bytes: Uint8Array, name: string): Uint8Array {
  const s = file.section(name)!;
  return bytes.subarray(Number(s.sh_offset), Number(s.sh_offset + s.sh_size));
}

for (const machine of ['x86_64', 'aarch64'] as const) {
  for (const pic of [true, false]) {
    const tool = TOOLS[machine];
    test(`${machine} ${pic ? '-fPIC' : 'default (PIE)'}: every relocated byte matches ld's output`, () => {
      if (!have(tool.cc) || !have(tool.ld)) return skipBecause(machine, `${tool.cc} or ${tool.ld} is not installed`);
      const name = `sample-${machine}-${pic ? 'pic' : 'pie'}`;
      const obj = compile(tool, name, SOURCE, pic ? ['-fPIC'] : []);
      const plan = planObjectLink(obj);
      assert.is(plan.machine, machine);
      assert.ok(plan.relocations.length > 0);
      const addresses = { text: 0x401000n, rodata: 0x480000n, data: 0x4c0000n };
      const ours = linkObject(plan, addresses, new Map());
      const ldFile = linkWithLd(tool, name, plan, addresses);
      const ldBytes = readFileSync(join(dir, `${name}.elf`));
      const got = ldFile.section('.got');
      const ldWord = (addr: bigint): bigint => {
        const view = new DataView(ldBytes.buffer, ldBytes.byteOffset);
        return view.getBigUint64(Number(addr - got!.sh_addr + got!.sh_offset), true);
      };
      const gotFields = new Map<string, Set<number>>();
      for (const t of plan.relocations) {
        for (const r of t.entries) {
          if (!GOT_TYPES.has(r.type)) continue;
          const set = gotFields.get(plan.sections.get(t.appliesTo)!.name) ?? new Set();
          set.add(Number(r.r_offset));
          gotFields.set(plan.sections.get(t.appliesTo)!.name, set);
        }
      }
      let compared = 0;
      for (const s of plan.sections.values()) {
        if (s.nobits || s.size === 0) continue;
        const theirs = bytesOf(ldFile, ldBytes, `.s${s.index}`);
        const mine = ours[s.arena].subarray(s.offset, s.offset + s.size);
        assert.is(theirs.length, mine.length, `${s.name} size`);
        const skip = gotFields.get(s.name) ?? new Set<number>();
        for (let i = 0; i < mine.length; i++) {
          if ([...skip].some((o) => i >= o && i < o + 4)) continue;
          if (mine[i] !== theirs[i]) assert.unreachable(`${s.name}+0x${i.toString(16)}: ours 0x${mine[i]!.toString(16)}, ld's 0x${theirs[i]!.toString(16)}`);
          compared++;
        }
      }
      assert.ok(compared > 100);
      // GOT-relative fields: both reach a slot holding the same address.
      let gotChecked = 0;
      for (const t of plan.relocations) {
        const s = plan.sections.get(t.appliesTo)!;
        for (const r of t.entries) {
          if (!GOT_TYPES.has(r.type)) continue;
          const P = addresses[s.arena] + BigInt(s.offset) + r.r_offset;
          const at = s.offset + Number(r.r_offset);
          const view = new DataView(ours[s.arena].buffer);
          const theirs = bytesOf(ldFile, ldBytes, `.s${s.index}`);
          const tv = new DataView(theirs.buffer, theirs.byteOffset);
          const slot = plan.got.get(r.sym)!;
          const mySlotValue = new DataView(ours.data.buffer).getBigUint64(plan.gotAt + slot * 8, true);
          if (machine === 'x86_64') {
            const mine = P + BigInt(view.getInt32(at, true)) - r.r_addend;
            assert.is(mine, addresses.data + BigInt(plan.gotAt + slot * 8));
            assert.is(mySlotValue, ldWord(P + BigInt(tv.getInt32(Number(r.r_offset), true)) - r.r_addend));
            gotChecked++;
          } else if (r.type === 312 /* R_AARCH64_LD64_GOT_LO12_NC */) {
            const imm = ((view.getUint32(at, true) >> 10) & 0xfff) << 3;
            assert.is(BigInt(imm), (addresses.data + BigInt(plan.gotAt + slot * 8)) & 0xfffn);
            gotChecked++;
          }
        }
      }
      if (pic) assert.ok(gotChecked > 0, 'the -fPIC object reaches globals through the GOT');
    });
  }
}

test('x86_64: a call to a function beyond ±2 GiB goes through a jmp [rip] stub', () => {
  if (!have('gcc')) return skipBecause('far calls', 'gcc is not installed');
  const obj = compile(TOOLS.x86_64, 'far', 'int far_away(int); int near_call(int x) { return far_away(x) + 1; }\n', ['-fPIC']);
  const plan = planObjectLink(obj);
  assert.equal(
    plan.undefined.map((u) => u.name),
    ['far_away'],
  );
  const addresses = { text: 0x7f0000001000n, rodata: 0x7f0000100000n, data: 0x7f0000200000n };
  const target = 0x1000n;
  const linked = linkObject(plan, addresses, new Map([['far_away', target]]));
  const stubAt = plan.stubsAt;
  assert.equal([...linked.text.subarray(stubAt, stubAt + 6)], [0xff, 0x25, 0, 0, 0, 0]);
  assert.is(new DataView(linked.text.buffer).getBigUint64(stubAt + 6, true), target);
  // The call's rel32 lands on the stub.
  const t = plan.relocations.find((x) => x.name === '.rela.text')!;
  const r = t.entries[0]!;
  const field = new DataView(linked.text.buffer).getInt32(Number(r.r_offset), true);
  assert.is(addresses.text + r.r_offset + BigInt(field) - r.r_addend, addresses.text + BigInt(stubAt));
  // In reach, the same call is direct.
  const near = linkObject(plan, addresses, new Map([['far_away', addresses.text + 0x100000n]]));
  const direct = new DataView(near.text.buffer).getInt32(Number(r.r_offset), true);
  assert.is(addresses.text + r.r_offset + BigInt(direct) - r.r_addend, addresses.text + 0x100000n);
});

test('with a slot for an undefined name, calls go through a stub that jumps through the slot, and GOT references use the slot', () => {
  for (const machine of ['x86_64', 'aarch64'] as const) {
    const tool = TOOLS[machine];
    if (!have(tool.cc)) {
      skipBecause(`${machine} slots`, `${tool.cc} is not installed`);
      continue;
    }
    const obj = compile(tool, `slot-${machine}`, 'int ext(int); extern int ext_data; int f(int x) { return ext(x) + ext_data; }\n', ['-fPIC']);
    const plan = planObjectLink(obj);
    const addresses = { text: 0x7f0000001000n, rodata: 0x7f0000100000n, data: 0x7f0000200000n };
    const slots = new Map([
      ['ext', 0x7f0000300008n],
      ['ext_data', 0x7f0000300010n],
    ]);
    // In reach or not, the call takes the stub.
    const linked = linkObject(
      plan,
      addresses,
      new Map([
        ['ext', addresses.text + 0x40n],
        ['ext_data', 0x1234n],
      ]),
      slots,
    );
    const v = new DataView(linked.text.buffer);
    const stub = addresses.text + BigInt(plan.stubsAt);
    const text = plan.relocations.find((x) => x.name === '.rela.text')!;
    if (machine === 'x86_64') {
      assert.equal([...linked.text.subarray(plan.stubsAt, plan.stubsAt + 2)], [0xff, 0x25]);
      assert.is(stub + 6n + BigInt(v.getInt32(plan.stubsAt + 2, true)), slots.get('ext'));
      const call = text.entries.find((e) => e.type === 4)!;
      assert.is(addresses.text + call.r_offset + BigInt(v.getInt32(Number(call.r_offset), true)) - call.r_addend, stub);
      const got = text.entries.find((e) => GOT_TYPES.has(e.type))!;
      assert.is(addresses.text + got.r_offset + BigInt(v.getInt32(Number(got.r_offset), true)) - got.r_addend, slots.get('ext_data'));
    } else {
      const adrp = v.getUint32(plan.stubsAt, true);
      const pages = BigInt.asIntN(21, BigInt(((adrp >> 29) & 3) | (((adrp >> 5) & 0x7ffff) << 2)));
      const ldr = v.getUint32(plan.stubsAt + 4, true);
      assert.is((stub & ~0xfffn) + (pages << 12n) + BigInt(((ldr >> 10) & 0xfff) * 8), slots.get('ext'));
      assert.is(v.getUint32(plan.stubsAt + 8, true), 0xd61f0200);
    }
  }
});

test('aarch64: a call beyond ±128 MiB goes through a veneer', () => {
  if (!have('aarch64-linux-gnu-gcc')) return skipBecause('aarch64 veneer', 'aarch64-linux-gnu-gcc is not installed');
  const obj = compile(TOOLS.aarch64, 'far64', 'int far_away(int); int near_call(int x) { return far_away(x) + 1; }\n', ['-fPIC']);
  const plan = planObjectLink(obj);
  const addresses = { text: 0x7f0000001000n, rodata: 0x7f0000100000n, data: 0x7f0000200000n };
  const linked = linkObject(plan, addresses, new Map([['far_away', 0x10000n]]));
  const v = new DataView(linked.text.buffer);
  assert.is(v.getUint32(plan.stubsAt, true), 0x58000050);
  assert.is(v.getUint32(plan.stubsAt + 4, true), 0xd61f0200);
  assert.is(v.getBigUint64(plan.stubsAt + 8, true), 0x10000n);
  const r = plan.relocations.find((x) => x.name === '.rela.text')!.entries.find((e) => e.type === 283)!;
  const insn = v.getUint32(Number(r.r_offset), true);
  const imm26 = BigInt.asIntN(26, BigInt(insn & 0x3ffffff)) * 4n;
  assert.is(addresses.text + r.r_offset + imm26, addresses.text + BigInt(plan.stubsAt));
});

test('refused before anything is produced: TLS (named), and absolute 32-bit addresses out of range', () => {
  if (!have('gcc')) return skipBecause('refusals', 'gcc is not installed');
  const tls = compile(TOOLS.x86_64, 'tls', '__thread int t; int get(void) { return t; }\n', []);
  try {
    planObjectLink(tls);
    assert.unreachable('TLS was accepted');
  } catch (err) {
    assert.instance(err, ElfLinkError);
    assert.match((err as Error).message, /thread-local storage is not supported/);
    assert.match((err as ElfLinkError).relocation ?? (err as ElfLinkError).section ?? '', /R_X86_64_TPOFF32|\.tbss/);
  }
  const abs = compile(TOOLS.x86_64, 'abs32', 'int v; int *addr(void) { return &v; }\n', ['-fno-pic', '-mcmodel=small']);
  const plan = planObjectLink(abs);
  try {
    linkObject(plan, { text: 0x7f0000001000n, rodata: 0x7f0000100000n, data: 0x7f0000200000n }, new Map());
    assert.unreachable('a 32-bit absolute address above 4 GiB was accepted');
  } catch (err) {
    assert.instance(err, ElfLinkError);
    assert.match((err as Error).message, /R_X86_64_32S? at \.text\+0x[0-9a-f]+ against 'v'.*-fPIC/);
  }
  // Below 2 GiB the same object links.
  linkObject(plan, { text: 0x401000n, rodata: 0x480000n, data: 0x4c0000n }, new Map());
});

test('not an object: an ET_DYN is refused', () => {
  if (!have('gcc')) return skipBecause('ET_DYN', 'gcc is not installed');
  const so = join(dir, 'x.so');
  writeFileSync(join(dir, 'x.c'), 'int f(void) { return 1; }\n');
  mustRun('gcc', ['-shared', '-fPIC', '-o', so, join(dir, 'x.c')]);
  assert.throws(
    () => planObjectLink(readFileSync(so)),
    (e: Error) => e instanceof ElfLinkError && /not a relocatable object/.test(e.message),
  );
});

test.run();
