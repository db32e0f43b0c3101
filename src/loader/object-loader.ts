// Loading compiled objects (.o, ET_REL) into a live library: their sections
// go into the library's text, rodata and data arenas, their relocations are
// applied by src/elf/object-link.ts, their global symbols are bound like any
// other and their local functions and objects are written as LOCAL entries
// for debuggers. Everything that can fail (reading, refusing, resolving,
// allocating, relocating) happens before the first byte is written, and a
// failure gives back what it took: the library is as it was.
import { ELF64_ST_INFO, SHF_EXECINSTR, SHF_WRITE, STB_LOCAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_OBJECT } from '../elf/constants.js';
import { ElfFormatError, ElfLinkError } from '../elf/errors.js';
import { sortObjectFdes } from '../elf/object-unwind.js';
import { OBJECT_ARENAS, type ObjectArena, type ObjectLinkPlan, absoluteWordOffsets, linkObject, planObjectLink } from '../elf/object-link.js';
import { DlbindError } from './errors.js';
import { type KoffiType, getLibc } from './libc.js';
import type { LiveObject } from './live-object.js';
import type { LiveSymbolTable } from './symtab.js';
import type { LiveUnwindTable } from './unwind.js';

/** How undefined symbols may be resolved besides the library's own symbols and libc's dlsym(RTLD_DEFAULT). */
export type ObjectResolver = Readonly<Record<string, bigint>> | ReadonlyMap<string, bigint> | ((name: string) => bigint | undefined);

/** Options of loadObject. */
export interface LoadObjectOptions {
  /**
   * Addresses for undefined symbols, tried after the library's own symbols
   * and before dlsym(RTLD_DEFAULT): a record, a Map, or a function returning
   * undefined for names it does not know.
   */
  resolve?: ObjectResolver;
  /**
   * Register the object's .eh_frame (relocated, with its CIEs, personality
   * and LSDA references) with libgcc's unwinder, so that C++ exceptions and
   * backtraces pass through its code. Default true.
   */
  unwind?: boolean;
}

/** What loadObject returns: the object's place in the library, and the handle for unloadObject. */
export interface LoadedObject {
  /** The exported (GLOBAL/WEAK, default or protected visibility) symbols bound for it, with their addresses. */
  readonly symbols: ReadonlyMap<string, bigint>;
  /** The start of each block the object's sections went to (absent when it had none of that kind). */
  readonly blocks: Readonly<Partial<Record<ObjectArena, bigint>>>;
  /** Where each loaded section is: name → address (the first of a name). */
  readonly sections: ReadonlyMap<string, bigint>;
  /** How each undefined symbol was resolved: name → address. */
  readonly imports: ReadonlyMap<string, bigint>;
}

/** What the loader needs of a live library: its public operations, and its symbol table for LOCAL entries. */
export interface ObjectHost {
  readonly name: string;
  readonly loadBase: bigint;
  readonly liveObject: LiveObject;
  readonly symbolTable: LiveSymbolTable;
  readonly unwindTable: LiveUnwindTable;
  alloc(size: number, flags: number, align?: number): bigint;
  write(addr: bigint, bytes: Uint8Array): void;
  bind(name: string, addr: bigint, size: number, type?: number): void;
  unbind(name: string): boolean;
  free(addr: bigint): void;
  reloc(addr: bigint): void;
  lookup(name: string): { address: bigint } | undefined;
  /** The library's import slot for `name` (one of its own symbols, or one dlsym(RTLD_DEFAULT) finds). */
  import(name: string): bigint;
}

interface ObjectRecord {
  blocks: bigint[];
  /** The .eh_frame registered with __register_frame, 0n if none. */
  ehFrame: bigint;
  bound: string[];
  localSlots: number[];
  fini: bigint[];
}

const loaded = new WeakMap<LoadedObject, { host: ObjectHost; record: ObjectRecord }>();
/** Each library's loaded objects, for deleteObjects. */
const byHost = new WeakMap<ObjectHost, Set<ObjectRecord>>();
let voidProto: KoffiType | undefined;

const FLAGS: Record<ObjectArena, number> = { text: SHF_EXECINSTR, rodata: 0, data: SHF_WRITE };

function objectError(err: unknown, host: ObjectHost): never {
  if (err instanceof ElfLinkError || err instanceof ElfFormatError) {
    throw new DlbindError('EOBJECT', `cannot load the object into ${host.name}: ${err.message}`);
  }
  throw err;
}

function resolverLookup(resolve: ObjectResolver | undefined, name: string): bigint | undefined {
  if (resolve === undefined) return undefined;
  const v =
    typeof resolve === 'function'
      ? resolve(name)
      : resolve instanceof Map
        ? resolve.get(name)
        : Object.hasOwn(resolve, name)
          ? (resolve as Record<string, bigint>)[name]
          : undefined;
  if (v === undefined) return undefined;
  if (typeof v !== 'bigint') throw new DlbindError('EINVAL', `options.resolve gave ${typeof v} for '${name}', not a bigint address`);
  return v;
}

/** Loads an ET_REL object (a .o from gcc or clang) into `host`. See LoadObjectOptions. */
export function loadObject(host: ObjectHost, bytes: Uint8Array, options: LoadObjectOptions = {}): LoadedObject {
  if (!(bytes instanceof Uint8Array)) throw new DlbindError('EINVAL', 'loadObject needs the object file as a Uint8Array');
  if (options === null || typeof options !== 'object') throw new DlbindError('EINVAL', 'options must be an object');
  const r = options.resolve;
  if (r !== undefined && typeof r !== 'function' && (typeof r !== 'object' || r === null))
    throw new DlbindError('EINVAL', 'options.resolve must be a record, a Map or a function');
  let plan: ObjectLinkPlan;
  try {
    plan = planObjectLink(bytes);
  } catch (err) {
    objectError(err, host);
  }
  const o = host.liveObject;
  if (plan.machine !== o.layout.machine) throw new DlbindError('EOBJECT', `the object is for ${plan.machine}, library ${host.name} for ${o.layout.machine}`);

  // Names taken already: a strong definition clashes, a weak one yields to the library's.
  const toBind = plan.defined.filter((d) => d.exported && !(d.bind === STB_WEAK && host.lookup(d.name) !== undefined));
  const bindSet = new Set(toBind);
  const clashes = toBind.filter((d) => host.lookup(d.name) !== undefined).map((d) => d.name);
  if (clashes.length > 0) throw new DlbindError('EEXIST', `cannot load the object into ${host.name}: already bound: ${clashes.join(', ')}`);

  const c = getLibc();
  const imports = new Map<string, bigint>();
  /** Names reached through the library's import slots: its own symbols and libc's finds, not options.resolve's addresses. */
  const slotted: string[] = [];
  const unresolved: string[] = [];
  for (const u of plan.undefined) {
    const own = host.lookup(u.name)?.address;
    const given = own === undefined ? resolverLookup(r, u.name) : undefined;
    const value = own ?? given ?? nonZero(c.dlsym(0n, u.name));
    if (value !== undefined) {
      imports.set(u.name, value);
      if (given === undefined) slotted.push(u.name);
    } else if (u.weak) imports.set(u.name, 0n);
    else unresolved.push(u.name);
  }
  if (unresolved.length > 0) {
    throw new DlbindError(
      'EUNDEF',
      `cannot load the object into ${host.name}: ${unresolved.length === 1 ? 'undefined symbol' : `${unresolved.length} undefined symbols`}: ${unresolved.join(', ')}`,
    );
  }

  const record: ObjectRecord = { blocks: [], ehFrame: 0n, bound: [], localSlots: [], fini: [] };
  const addresses = { text: 0n, rodata: 0n, data: 0n };
  try {
    for (const a of OBJECT_ARENAS) {
      const b = plan.blocks[a];
      if (b.size === 0) continue;
      addresses[a] = host.alloc(b.size, FLAGS[a], Math.min(b.align, 65536));
      record.blocks.push(addresses[a]);
    }
    // Calls and GOT loads go through the import slots, so that a replace of a library symbol
    // reaches the object's callers, and dlsave writes GLOB_DAT relocations for libc's.
    // (A slot is shared by every user of the name, and stays when this object goes.)
    const slots = new Map(slotted.map((n) => [n, host.import(n)]));
    let linked: ReturnType<typeof linkObject>;
    try {
      linked = linkObject(plan, addresses, imports, slots);
    } catch (err) {
      objectError(err, host);
    }
    // Nothing was written up to here; from here on, a failure is undone by unloading.
    for (const a of OBJECT_ARENAS) if (plan.blocks[a].size > 0) host.write(addresses[a], linked[a]);
    for (const off of absoluteWordOffsets(plan)) {
      const word = new DataView(linked.data.buffer).getBigUint64(off, true);
      const rel = word - host.loadBase;
      // Only pointers into the library itself can be relocated in a saved copy.
      if (off % 8 === 0 && rel >= 0n && rel < BigInt(o.fileSize)) host.reloc(addresses.data + BigInt(off));
    }
    const sectionIndex = o.layout.sectionIndex;
    for (const d of plan.defined) {
      const addr = addresses[d.arena] + BigInt(d.offset);
      const type = d.type === STT_FUNC || d.type === STT_OBJECT ? d.type : STT_NOTYPE;
      if (d.exported) {
        if (!bindSet.has(d)) continue;
        // A label (size 0) is bound with one byte, so dlsym and dladdr see it.
        if (d.offset >= plan.blocks[d.arena].size) continue;
        host.bind(d.name, addr, Math.max(1, d.size), type);
        record.bound.push(d.name);
      } else {
        const value = Number(addr - host.loadBase);
        record.localSlots.push(host.symbolTable.bindLocal(d.name, value, d.size, ELF64_ST_INFO(STB_LOCAL, type), sectionIndex[d.arena]));
      }
    }
    const handle: LoadedObject = {
      symbols: new Map(record.bound.map((n) => [n, host.lookup(n)!.address])),
      blocks: Object.fromEntries(OBJECT_ARENAS.filter((a) => addresses[a] !== 0n).map((a) => [a, addresses[a]])),
      sections: new Map([...plan.sections.values()].reverse().map((s) => [s.name, addresses[s.arena] + BigInt(s.offset)])),
      imports,
    };
    loaded.set(handle, { host, record });
    let set = byHost.get(host);
    if (set === undefined) byHost.set(host, (set = new Set()));
    set.add(record);
    // Before the constructors run: they may throw and catch.
    if (plan.ehFrame !== undefined && options.unwind !== false) {
      const s = plan.sections.get(plan.ehFrame)!;
      const at = addresses[s.arena] + BigInt(s.offset);
      let sorted: ReturnType<typeof sortObjectFdes>;
      try {
        sorted = sortObjectFdes(plan.machine, linked[s.arena].subarray(s.offset, s.offset + s.size), at);
      } catch (err) {
        objectError(err, host);
      }
      // Rules the live library's CIE can carry go into its .eh_frame (removed with the text block);
      // the rest (functions with an LSDA) are found by libgcc in the object's own .eh_frame.
      for (const f of sorted.movable) host.unwindTable.set(Number(f.pc - host.loadBase), f.size, f.instructions);
      if (sorted.staying > 0) {
        frames().register(at);
        record.ehFrame = at;
      }
    }
    record.fini = arrayEntries(plan, plan.finiArrays, linked).reverse();
    voidProto ??= c.proto('void dlbind_object_init(void)');
    for (const fn of arrayEntries(plan, plan.initArrays, linked)) c.call(fn, voidProto);
    return handle;
  } catch (err) {
    release(host, record);
    throw err;
  }
}

function nonZero(v: bigint): bigint | undefined {
  return v === 0n ? undefined : v;
}

/** The function pointers of .init_array or .fini_array sections, as relocated. */
function arrayEntries(plan: ObjectLinkPlan, sections: number[], linked: Record<ObjectArena, Uint8Array>): bigint[] {
  const out: bigint[] = [];
  for (const i of sections) {
    const s = plan.sections.get(i)!;
    const view = new DataView(linked[s.arena].buffer);
    for (let k = 0; k + 8 <= s.size; k += 8) {
      const fn = view.getBigUint64(s.offset + k, true);
      if (fn !== 0n && fn !== 0xffffffffffffffffn) out.push(fn);
    }
  }
  return out;
}

let frameFunctions: { register(at: bigint): void; deregister(at: bigint): void } | undefined;
/**
 * libgcc's __register_frame/__deregister_frame: _Unwind_Find_FDE searches
 * registered frames before the loaded objects' PT_GNU_EH_FRAME, and takes
 * the object's own CIEs (personality, LSDA encoding) as they are.
 */
function frames(): NonNullable<typeof frameFunctions> {
  if (frameFunctions === undefined) {
    const lib = getLibc().koffi.load('libgcc_s.so.1');
    const reg = lib.func('void __register_frame(void *begin)');
    const dereg = lib.func('void *__deregister_frame(void *begin)');
    frameFunctions = { register: (at) => reg(at), deregister: (at) => dereg(at) };
  }
  return frameFunctions;
}

function release(host: ObjectHost, record: ObjectRecord): void {
  if (record.ehFrame !== 0n) frames().deregister(record.ehFrame);
  record.ehFrame = 0n;
  for (const slot of record.localSlots) host.symbolTable.unbindLocal(slot);
  for (const name of record.bound) host.unbind(name);
  for (const b of record.blocks) host.free(b);
  record.localSlots = [];
  record.bound = [];
  record.blocks = [];
}

/**
 * Unloads an object: runs its .fini_array, unbinds its symbols (LOCAL
 * entries too) and frees its blocks (their symbol slots and names wait in the
 * quarantine). Code still running in it, or pointers into it, are the caller's to avoid.
 */
export function unloadObject(host: ObjectHost, handle: LoadedObject): void {
  const entry = loaded.get(handle);
  if (entry === undefined) throw new DlbindError('EINVAL', 'not an object handle returned by loadObject (or it was unloaded)');
  if (entry.host !== host) throw new DlbindError('EFOREIGN', `that object was loaded into ${entry.host.name}, not ${host.name}`);
  loaded.delete(handle);
  byHost.get(host)?.delete(entry.record);
  runFini(entry.record);
  release(host, entry.record);
}

function runFini(record: ObjectRecord): void {
  const c = getLibc();
  voidProto ??= c.proto('void dlbind_object_init(void)');
  const fini = record.fini;
  record.fini = [];
  for (const fn of fini) c.call(fn, voidProto);
}

/**
 * For dldelete, before the library is unmapped: runs every loaded object's
 * .fini_array (newest object first) and takes its .eh_frame back from libgcc,
 * which would otherwise read unmapped memory at the next exception anywhere.
 */
export function deleteObjects(host: ObjectHost): void {
  const set = byHost.get(host);
  if (set === undefined) return;
  byHost.delete(host);
  const records = [...set].reverse();
  for (const r of records) runFini(r);
  for (const r of records) {
    if (r.ehFrame !== 0n) frames().deregister(r.ehFrame);
    r.ehFrame = 0n;
  }
}
