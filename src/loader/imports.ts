// A live library's import table: GOT-style slots in its own data, each an
// aligned 8-byte word that generated code loads a callee's address from
// (`call [rip + disp]`, `adrp; ldr; blr`). A slot for another object's symbol
// is resolved once, through libc dlsym/dlvsym. A slot for one of the library's
// own symbols follows it: rebinding or replacing stores the new address, and
// unbinding (or freeing its block) stores the address of a trap stub (ud2,
// brk), so a stale caller stops loudly instead of running freed code. Every
// slot update is one atomic store, so a thread calling through it meanwhile
// gets the old target or the new one.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { PT_INTERP } from '../elf/constants.js';
import { readElf } from '../elf/reader.js';
import { DlbindError } from './errors.js';
import { type Libc, RTLD_LOCAL, RTLD_NOW, getLibc } from './libc.js';
import { type Mapping, readMappings } from './procmaps.js';

/** Where an import comes from: RTLD_DEFAULT (the default), a dlopen handle, or a library path or soname that is dlopen()ed for it. */
export type ImportSource = bigint | string;

/** Options of lib.import: which version of the symbol, and where it is looked up. Unknown keys are EINVAL. */
export interface ImportOptions {
  /** The exact version (dlvsym), e.g. 'GLIBC_2.2.5'. Default: the default version (dlsym). */
  version?: string;
  /** Where the symbol is looked up; default RTLD_DEFAULT (every global object, libc included). */
  from?: ImportSource;
}

/** What the table needs from its library. */
export interface ImportHost {
  arch: 'x86_64' | 'aarch64';
  /** Load base of the library; object offsets are relative to it. */
  base: bigint;
  /** The library's writable alias, indexed by object offset. */
  mem: Uint8Array;
  /** A fresh writable data block of `size` bytes (8-aligned); returns its address. */
  allocData(size: number): bigint;
  /** A fresh code block holding `code`; returns its address. */
  allocCode(code: Uint8Array): bigint;
  /** The current address of one of the library's own symbols, if bound. */
  ownAddress(name: string): bigint | undefined;
}

/** An import slot as dlsave writes it: an undefined symbol and a GLOB_DAT relocation on the slot. */
export interface SavedImport {
  name: string;
  version?: string;
  /** DT_NEEDED name of the object that provided it (undefined: the main program, found in the global scope anyway). */
  file?: string;
  /** Object offset of the slot. */
  offset: number;
}

interface Slot {
  offset: number;
  name: string;
  version?: string;
  own: boolean;
  /** The address an import resolved to (its provider is found from it when saving). */
  target: bigint;
}

/** Slots per data block; word 0 of each block is left unused so that no slot address is a block start (dlfree cannot take it). */
const SLOTS_PER_BLOCK = 63;
const X86_TRAP = [0x0f, 0x0b]; // ud2: SIGILL
const A64_TRAP = [0x00, 0x00, 0x20, 0xd4]; // brk #0: SIGTRAP

export class ImportTable {
  private readonly slots = new Map<string, Slot>();
  private readonly ownSlots = new Map<string, Slot[]>();
  private readonly opened = new Map<string, bigint>();
  private block = 0n;
  private used = SLOTS_PER_BLOCK;
  private trap = 0n;
  private words: BigInt64Array | undefined;

  constructor(private readonly host: ImportHost) {}

  /** The slot's address for `name` (the same slot for the same name, version and source). */
  import(name: string, options: ImportOptions, own: boolean): bigint {
    const version = options.version;
    if (version !== undefined && (typeof version !== 'string' || version.length === 0 || version.includes('\0')))
      throw new DlbindError('EINVAL', 'version must be a non-empty string without NUL');
    const from = options.from;
    if (from !== undefined && typeof from !== 'bigint' && (typeof from !== 'string' || from.length === 0))
      throw new DlbindError('EINVAL', 'from must be a dlopen handle (bigint), a library path or soname, or the library itself');
    if (own && version !== undefined) throw new DlbindError('EINVAL', "a slot for the library's own symbol has no version");
    const key = own ? `\0own\0${name}` : `${name}\0${version ?? ''}\0${typeof from === 'bigint' ? `#${from}` : (from ?? '')}`;
    const known = this.slots.get(key);
    if (known !== undefined) return this.host.base + BigInt(known.offset);

    let target: bigint;
    if (own) target = this.host.ownAddress(name) ?? this.trapAddress();
    else {
      const libc = getLibc();
      const handle = from === undefined ? 0n : typeof from === 'bigint' ? from : this.open(libc, from);
      libc.dlerror();
      target = version === undefined ? libc.dlsym(handle, name) : libc.dlvsym(handle, name, version);
      if (target === 0n) {
        const why = libc.dlerror();
        const where = from === undefined ? 'the global scope' : typeof from === 'string' ? from : `handle 0x${from.toString(16)}`;
        throw new DlbindError('ENOENT', `no symbol '${name}'${version === undefined ? '' : ` at version ${version}`} in ${where}${why ? ` (${why})` : ''}`);
      }
    }
    const slot: Slot = { offset: this.newSlot(), name, version, own, target };
    this.store(slot, target);
    this.slots.set(key, slot);
    if (own) {
      const list = this.ownSlots.get(name);
      if (list === undefined) this.ownSlots.set(name, [slot]);
      else list.push(slot);
    }
    return this.host.base + BigInt(slot.offset);
  }

  /** `name` was bound (or replaced) at `addr`: its slots follow. */
  /** Whether any slot follows one of the library's own symbols (else binds need not tell the table). */
  get followsOwn(): boolean {
    return this.ownSlots.size !== 0;
  }

  bound(name: string, addr: bigint): void {
    if (this.ownSlots.size === 0) return;
    for (const s of this.ownSlots.get(name) ?? []) this.store(s, addr);
  }

  /** `name` was unbound: its slots now lead to the trap. */
  unbound(name: string): void {
    if (this.ownSlots.size === 0) return;
    const list = this.ownSlots.get(name);
    if (list === undefined) return;
    const trap = this.trapAddress();
    for (const s of list) this.store(s, trap);
  }

  /** Object offsets of the slots holding the library's own addresses (saved as RELATIVE relocations). */
  ownSlotOffsets(): number[] {
    return [...this.slots.values()].filter((s) => s.own).map((s) => s.offset);
  }

  /** The import slots, with the DT_NEEDED name of each provider (read from its file). */
  savedImports(): SavedImport[] {
    const files = new Map<string, string | undefined>();
    const out: SavedImport[] = [];
    let maps: Mapping[] | undefined;
    for (const s of this.slots.values()) {
      if (s.own) continue;
      // The mapping holding the address names its file at once; dladdr (about 1 ms a call
      // here, scanning every symbol of the object) is asked only for what maps do not name.
      maps ??= readMappings();
      const m = maps.find((x) => s.target >= x.start && s.target < x.end);
      let provider = m?.path.startsWith('/') && !m.path.endsWith(' (deleted)') ? m.path : undefined;
      provider ??= getLibc().dladdr(s.target)?.dli_fname ?? undefined;
      let file: string | undefined;
      if (provider !== undefined && provider !== '') {
        if (!files.has(provider)) files.set(provider, neededName(provider));
        file = files.get(provider);
      }
      out.push({ name: s.name, version: s.version, file, offset: s.offset });
    }
    return out;
  }

  /** dlcloses what `from` paths opened. */
  close(): void {
    const libc = this.opened.size > 0 ? getLibc() : undefined;
    for (const h of this.opened.values()) libc!.dlclose(h);
    this.opened.clear();
    this.slots.clear();
    this.ownSlots.clear();
  }

  private open(libc: Libc, path: string): bigint {
    let h = this.opened.get(path);
    if (h === undefined) {
      h = libc.dlopen(path, RTLD_NOW | RTLD_LOCAL);
      if (h === 0n) throw new DlbindError('ELIBC', `dlopen(${path}) failed: ${libc.dlerror() ?? 'unknown error'}`);
      this.opened.set(path, h);
    }
    return h;
  }

  private newSlot(): number {
    if (this.used === SLOTS_PER_BLOCK) {
      this.block = this.host.allocData((SLOTS_PER_BLOCK + 1) * 8) - this.host.base;
      this.used = 0;
    }
    return Number(this.block) + 8 * (1 + this.used++);
  }

  private trapAddress(): bigint {
    if (this.trap === 0n) {
      // The stub is 8 bytes into a block of traps, so it is never a block start either.
      const unit = this.host.arch === 'x86_64' ? X86_TRAP : A64_TRAP;
      const code = Uint8Array.from({ length: 16 }, (_, i) => unit[i % unit.length]!);
      this.trap = this.host.allocCode(code) + 8n;
    }
    return this.trap;
  }

  private store(s: Slot, value: bigint): void {
    const mem = this.host.mem;
    this.words ??= new BigInt64Array(mem.buffer, mem.byteOffset, Math.floor(mem.byteLength / 8));
    Atomics.store(this.words, s.offset / 8, BigInt.asIntN(64, value));
  }
}

/** The DT_NEEDED name for an object at `path`: its soname, else its file name; undefined for the main program. */
function neededName(path: string): string | undefined {
  // dladdr names the main program by argv[0] ('node'), which may have no slash; loaded
  // objects always have a path. A non-PIE program's canonical PLT entry (node's printf,
  // say) is what dlsym(RTLD_DEFAULT) finds first, so this case is common.
  if (!path.includes('/') || path === process.execPath) return undefined;
  try {
    const file = readElf(readFileSync(path));
    if (file.soname !== undefined) return file.soname;
    if (file.segments.some((p) => p.p_type === PT_INTERP)) return undefined;
  } catch {
    // An unreadable provider is still named by its file.
  }
  return basename(path);
}
