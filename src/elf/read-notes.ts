// The GNU notes an object carries (build-id, ABI tag, program properties), decoded and worded
// as readelf -n words them; other notes keep their bytes.
import { EM_AARCH64, EM_X86_64 } from './constants.js';
import type { ElfNote } from './notes.js';

export const NT_GNU_ABI_TAG = 1;
export const NT_GNU_HWCAP = 2;
export const NT_GNU_BUILD_ID = 3;
export const NT_GNU_GOLD_VERSION = 4;
export const NT_GNU_PROPERTY_TYPE_0 = 5;

export const GNU_PROPERTY_STACK_SIZE = 1;
export const GNU_PROPERTY_NO_COPY_ON_PROTECTED = 2;
export const GNU_PROPERTY_1_NEEDED = 0xb0008000;
export const GNU_PROPERTY_LOPROC = 0xc0000000;
export const GNU_PROPERTY_LOUSER = 0xe0000000;
export const GNU_PROPERTY_AARCH64_FEATURE_1_AND = 0xc0000000;
export const GNU_PROPERTY_X86_FEATURE_1_AND = 0xc0000002;
export const GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002;
export const GNU_PROPERTY_X86_FEATURE_2_NEEDED = 0xc0008001;
export const GNU_PROPERTY_X86_ISA_1_USED = 0xc0010002;
export const GNU_PROPERTY_X86_FEATURE_2_USED = 0xc0010001;

/** One program property (pr_type, pr_data) of an NT_GNU_PROPERTY_TYPE_0 note. */
export interface GnuProperty {
  /** GNU_PROPERTY_* type, e.g. GNU_PROPERTY_X86_ISA_1_NEEDED or GNU_PROPERTY_AARCH64_FEATURE_1_AND. */
  pr_type: number;
  /** The property's data bytes. */
  data: Uint8Array;
  /** readelf's wording: `x86 ISA needed: x86-64-baseline`, `AArch64 feature: BTI, PAC`. */
  text: string;
}

/** A note with what the reader makes of it. */
export interface DecodedNote extends ElfNote {
  /** The section it was read from ('.note.gnu.build-id'), or `PT_NOTE` with the segment's index. */
  source: string;
  /** `NT_GNU_BUILD_ID`, or `NT(0x..)` for a type the reader does not know under this owner. */
  typeName: string;
  /** readelf -n's description column after the type: `Build ID: 93ac…`, `OS: Linux, ABI: 3.2.0`. */
  text: string;
  /** NT_GNU_BUILD_ID: the build id in hex. */
  buildId?: string;
  /** NT_GNU_ABI_TAG: the OS and the oldest kernel version the object needs. */
  abiTag?: {
    /** 'Linux', 'Hurd', 'Solaris' or 'FreeBSD'. */
    os: string;
    /** Major, minor and patch. */
    version: [number, number, number];
  };
  /** NT_GNU_PROPERTY_TYPE_0: the properties, in order. */
  properties?: GnuProperty[];
}

const GNU_TYPES: Record<number, string> = {
  [NT_GNU_ABI_TAG]: 'NT_GNU_ABI_TAG',
  [NT_GNU_HWCAP]: 'NT_GNU_HWCAP',
  [NT_GNU_BUILD_ID]: 'NT_GNU_BUILD_ID',
  [NT_GNU_GOLD_VERSION]: 'NT_GNU_GOLD_VERSION',
  [NT_GNU_PROPERTY_TYPE_0]: 'NT_GNU_PROPERTY_TYPE_0',
};
const ABI_OS = ['Linux', 'Hurd', 'Solaris', 'FreeBSD', 'NetBSD', 'Syllable', 'NaCl'];

const X86_ISA = ['x86-64-baseline', 'x86-64-v2', 'x86-64-v3', 'x86-64-v4'];
const X86_FEATURE_1 = ['IBT', 'SHSTK', 'LAM_U48', 'LAM_U57'];
const X86_FEATURE_2 = ['x86', 'x87', 'MMX', 'XMM', 'YMM', 'ZMM', 'FXSR', 'XSAVE', 'XSAVEOPT', 'XSAVEC', 'TMM', 'MASK'];
const AARCH64_FEATURE_1 = ['BTI', 'PAC'];

function hexBytes(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function u32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

/** Bit names joined as readelf does; `<None>` for no bit, `<unknown: 10>` for bits it has no name for. */
function bits(value: number, names: readonly string[]): string {
  if (value === 0) return '<None>';
  const out: string[] = [];
  for (let i = 0; i < 32; i++) {
    const bit = (1 << i) >>> 0;
    if ((value & bit) === 0) continue;
    out.push(names[i] ?? `<unknown: ${bit.toString(16)}>`);
  }
  return out.join(', ');
}

function propertyText(e_machine: number, pr_type: number, data: Uint8Array): string {
  const word = (label: string, names: readonly string[]): string =>
    data.length === 4 ? `${label}: ${bits(u32(data, 0), names)}` : `${label}: <corrupt length: 0x${data.length.toString(16)}> `;
  if (pr_type === GNU_PROPERTY_STACK_SIZE) {
    if (data.length !== 8) return `stack size: <corrupt length: 0x${data.length.toString(16)}> `;
    return `stack size: 0x${new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true).toString(16)}`;
  }
  if (pr_type === GNU_PROPERTY_NO_COPY_ON_PROTECTED)
    return data.length === 0 ? 'no copy on protected' : `no copy on protected <corrupt length: 0x${data.length.toString(16)}> `;
  if (pr_type === GNU_PROPERTY_1_NEEDED) return word('1_needed', ['indirect external access']);
  if (e_machine === EM_X86_64) {
    if (pr_type === GNU_PROPERTY_X86_ISA_1_USED) return word('x86 ISA used', X86_ISA);
    if (pr_type === GNU_PROPERTY_X86_ISA_1_NEEDED) return word('x86 ISA needed', X86_ISA);
    if (pr_type === GNU_PROPERTY_X86_FEATURE_1_AND) return word('x86 feature', X86_FEATURE_1);
    if (pr_type === GNU_PROPERTY_X86_FEATURE_2_USED) return word('x86 feature used', X86_FEATURE_2);
    if (pr_type === GNU_PROPERTY_X86_FEATURE_2_NEEDED) return word('x86 feature needed', X86_FEATURE_2);
  }
  if (e_machine === EM_AARCH64 && pr_type === GNU_PROPERTY_AARCH64_FEATURE_1_AND) return word('AArch64 feature', AARCH64_FEATURE_1);
  const kind = pr_type < GNU_PROPERTY_LOPROC ? 'unknown' : pr_type < GNU_PROPERTY_LOUSER ? 'processor-specific' : 'application-specific';
  return `<${kind} type 0x${pr_type.toString(16)} data: ${Array.from(data, (b) => `${b.toString(16).padStart(2, '0')} `).join('')}>`;
}

/** The properties of an NT_GNU_PROPERTY_TYPE_0 descriptor: 8-byte aligned records in ELF64. */
function properties(e_machine: number, desc: Uint8Array): { list: GnuProperty[]; text: string } {
  const list: GnuProperty[] = [];
  const parts: string[] = [];
  let at = 0;
  while (at < desc.length) {
    if (desc.length - at < 8) {
      parts.push(`<corrupt descsz: 0x${desc.length.toString(16)}>`);
      break;
    }
    const pr_type = u32(desc, at);
    const pr_datasz = u32(desc, at + 4);
    if (pr_datasz > desc.length - at - 8) {
      parts.push(`<corrupt type (0x${pr_type.toString(16)}) datasz: 0x${pr_datasz.toString(16)}>`);
      break;
    }
    const data = desc.subarray(at + 8, at + 8 + pr_datasz);
    const text = propertyText(e_machine, pr_type, data);
    list.push({ pr_type, data, text });
    parts.push(text);
    at += 8 + Math.ceil(pr_datasz / 8) * 8;
  }
  return { list, text: `Properties: ${parts.join('\n\t')}` };
}

/** Decodes one note; `desc` is copied, so that the result does not hold the input. */
export function decodeNote(note: ElfNote, source: string, e_machine: number): DecodedNote {
  const desc = note.desc.slice();
  const out: DecodedNote = { ...note, desc, source, typeName: `NT(0x${note.n_type.toString(16)})`, text: '' };
  if (note.name !== 'GNU') {
    out.text = `description data: ${Array.from(desc, (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
    return out;
  }
  out.typeName = GNU_TYPES[note.n_type] ?? out.typeName;
  if (note.n_type === NT_GNU_BUILD_ID) {
    out.buildId = hexBytes(desc);
    out.text = `Build ID: ${out.buildId}`;
  } else if (note.n_type === NT_GNU_ABI_TAG && desc.length >= 16) {
    const os = ABI_OS[u32(desc, 0)] ?? `<unknown: ${u32(desc, 0)}>`;
    const version: [number, number, number] = [u32(desc, 4), u32(desc, 8), u32(desc, 12)];
    out.abiTag = { os, version };
    out.text = `OS: ${os}, ABI: ${version.join('.')}`;
  } else if (note.n_type === NT_GNU_PROPERTY_TYPE_0) {
    const p = properties(e_machine, desc);
    out.properties = p.list;
    out.text = p.text;
  } else if (note.n_type === NT_GNU_GOLD_VERSION) {
    out.text = `Version: ${Buffer.from(desc).toString('latin1').replace(/\0+$/, '')}`;
  } else {
    out.text = `description data: ${Array.from(desc, (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
  }
  return out;
}
