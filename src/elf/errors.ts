/**
 * Thrown by the ELF reader for every malformed input: it names what was wrong,
 * the file offset where it was found, and the offending value when there is one.
 */
export class ElfFormatError extends Error {
  /** Always 'ElfFormatError'. */
  override readonly name = 'ElfFormatError';
  /** Makes an error whose message is `what at offset 0x...` (with the value found, if given). */
  constructor(
    /** What is wrong, without the offset: 'section header table runs past the end of the file'. */
    readonly what: string,
    /** Byte offset in the input where the problem was found. */
    readonly offset: number,
    /** The value found there, if it helps to explain the problem. */
    readonly value?: bigint | number | string,
  ) {
    super(
      `${what} at offset 0x${offset.toString(16)}${value === undefined ? '' : ` (found ${typeof value === 'string' ? value : value < 0 ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`})`}`,
    );
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Thrown by the ELF writer when a spec cannot be encoded. */
export class ElfBuildError extends Error {
  /** Always 'ElfBuildError'. */
  override readonly name = 'ElfBuildError';
  /** Makes an error whose message is `field: message` (just `message` without a field). */
  constructor(
    message: string,
    /** Where in the spec the problem is, e.g. `symbols[3].bytes`. */
    readonly field?: string,
  ) {
    super(field === undefined ? message : `${field}: ${message}`);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Thrown when an ET_REL object cannot be linked: a relocation it cannot apply, a value out of range, a section it cannot place. */
export class ElfLinkError extends Error {
  override readonly name = 'ElfLinkError';
  constructor(
    message: string,
    /** The section concerned (the one a relocation applies to), when there is one. */
    readonly section?: string,
    /** The relocation type's name (`R_X86_64_TPOFF32`), when a relocation is concerned. */
    readonly relocation?: string,
  ) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
