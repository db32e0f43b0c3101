// The selection flags of `dlbind inspect`, apart from the report itself: the command line
// declares them for every run, and only `inspect` loads the reader and the formatters.

/** Each part's flag (`relocs` for `--relocs`) and its help text, in report order. */
export const INSPECT_FLAGS = {
  'file-header': 'the ELF header',
  segments: 'the program headers',
  sections: 'the section headers',
  dynamic: 'the dynamic array and the hash tables',
  'dyn-syms': 'the dynamic symbols, with versions',
  symbols: 'the symbol tables (.dynsym and .symtab)',
  relocs: 'every relocation table, symbols by name',
  'version-info': 'the version definitions and needs',
  notes: 'the notes (build-id, ABI tag, GNU properties)',
  unwind: 'the call frame information (.eh_frame_hdr, .eh_frame)',
} as const;

export type InspectFlag = keyof typeof INSPECT_FLAGS;
