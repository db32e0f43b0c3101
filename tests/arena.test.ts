// arch: aarch64
// The text, rodata and data allocator (src/loader/arena.ts) against a model that marks every
// 16-byte granule free, in use or retired: random allocs, frees, retires and releases, small and
// large, aligned up to a page. Every block it hands out is aligned, inside the arena and on free
// granules only; it fails only when no free stretch (free neighbours merge) holds the block; its
// books (bytes in use and retired, the block holding an offset) agree with the model; and once
// everything is given back the whole arena is one block again.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ARENA_GRANULE, Arena } from '../src/loader/arena.js';

const FREE = 0;
const USED = 1;
const RETIRED = 2;

type Op = { kind: 'alloc'; size: number; align: number } | { kind: 'free' | 'retire' | 'release'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      size: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 40_000 })),
      align: fc.constantFrom(1, 8, 16, 32, 64, 256, 4096),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('free' as const, 'retire' as const, 'release' as const), pick: fc.nat() }) },
);

const granulesOf = (size: number) => Math.max(1, Math.ceil(size / ARENA_GRANULE));

/** Whether some stretch of free granules holds `need` granules at an offset aligned to `align`. */
function fitsSomewhere(model: Uint8Array, need: number, align: number): boolean {
  const step = Math.max(1, align / ARENA_GRANULE);
  let runStart = -1;
  for (let g = 0; g <= model.length; g++) {
    if (g < model.length && model[g] === FREE) {
      if (runStart < 0) runStart = g;
      continue;
    }
    if (runStart >= 0) {
      const aligned = Math.ceil(runStart / step) * step;
      if (aligned + need <= g) return true;
      runStart = -1;
    }
  }
  return false;
}

function mark(model: Uint8Array, offset: number, size: number, state: number): void {
  model.fill(state, offset / ARENA_GRANULE, offset / ARENA_GRANULE + granulesOf(size));
}

test('the arena agrees with a granule model under random allocs, frees, retires and releases', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 200_000 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
      const arena = new Arena(capacity);
      const model = new Uint8Array(Math.floor(capacity / ARENA_GRANULE));
      const live: [number, number][] = [];
      const retired: [number, number][] = [];
      for (const o of ops) {
        if (o.kind === 'alloc') {
          const at = arena.alloc(o.size, o.align);
          const need = granulesOf(o.size);
          const align = Math.max(o.align, ARENA_GRANULE);
          if (at < 0) {
            assert.not.ok(fitsSomewhere(model, need, align), `alloc(${o.size}, ${o.align}) failed with room left`);
            continue;
          }
          assert.is(at % align, 0, 'aligned');
          assert.ok(at / ARENA_GRANULE + need <= model.length, 'inside the arena');
          for (let g = at / ARENA_GRANULE; g < at / ARENA_GRANULE + need; g++) assert.is(model[g], FREE, `granule ${g} handed out twice`);
          mark(model, at, o.size, USED);
          live.push([at, o.size]);
          assert.equal(arena.blockContaining(at + granulesOf(o.size) * ARENA_GRANULE - 1), { offset: at, size: o.size });
        } else if (o.kind === 'release') {
          if (retired.length === 0) continue;
          const [at, size] = retired.splice(o.pick % retired.length, 1)[0]!;
          arena.release(at, size);
          mark(model, at, size, FREE);
        } else {
          if (live.length === 0) continue;
          const [at, size] = live.splice(o.pick % live.length, 1)[0]!;
          if (o.kind === 'free') {
            assert.is(arena.free(at), size);
            mark(model, at, size, FREE);
          } else {
            assert.is(arena.retire(at), size);
            mark(model, at, size, RETIRED);
            retired.push([at, size]);
          }
          assert.is(arena.sizeAt(at), undefined);
          assert.ok(arena.isFree(at));
        }
        let used = 0;
        let quarantined = 0;
        for (const g of model) {
          if (g === USED) used += ARENA_GRANULE;
          else if (g === RETIRED) quarantined += ARENA_GRANULE;
        }
        assert.is(arena.bytesInUse, used);
        assert.is(arena.bytesRetired, quarantined);
      }
      assert.equal(
        arena.blocks().map((b) => b.offset),
        live.map(([at]) => at).sort((x, y) => x - y),
      );
      for (const [at] of live) arena.free(at);
      for (const [at, size] of retired) arena.release(at, size);
      // Every neighbour merged: the whole arena is one free block again.
      if (model.length > 0) assert.is(arena.alloc(model.length * ARENA_GRANULE, 1), 0);
      else assert.is(arena.alloc(1, 1), -1);
    }),
    { numRuns: 300 },
  );
});

test('a freed block is reused first fit: the lowest bin that holds it, before the untouched tail', () => {
  const arena = new Arena(1 << 20);
  const a = arena.alloc(100, 16);
  const b = arena.alloc(100, 16);
  const c = arena.alloc(5000, 16);
  assert.equal([a, b, c], [0, 112, 224]);
  arena.free(a);
  // 100 bytes fit in the freed 112 at 0, which is in a lower bin than the tail.
  assert.is(arena.alloc(90, 16), 0);
  arena.free(c);
  // The freed 5,008 bytes at 224 merged with the tail; the next block comes from there.
  assert.is(arena.alloc(64, 16), 224);
});

test.run();
