/** Stable error codes of DlbindError. New codes may be added; existing ones never change meaning. */
export type DlbindErrorCode =
  /** This platform cannot host live libraries (not Linux/glibc, or not x86_64/aarch64). */
  | 'EPLATFORM'
  /** The library was deleted with dldelete; every later use fails. */
  | 'EDELETED'
  /** An argument has the wrong type or value (size, flags, options). */
  | 'EINVAL'
  /** A symbol name is empty, holds NUL, or is not valid UTF-8 (one too long for the string table is ESTRFULL). */
  | 'ENAME'
  /** A symbol with that name is already bound (pass { replace: true } to repoint it). */
  | 'EEXIST'
  /** No symbol with that name is bound. */
  | 'ENOENT'
  /** An alignment is not a power of two (or is larger than a page). */
  | 'EALIGN'
  /** SHF_WRITE | SHF_EXECINSTR was asked for: memory is never writable and executable. */
  | 'EWX'
  /** The symbol table is full (raise maxSymbols). */
  | 'ESYMFULL'
  /** The string table is full (raise stringTableSize). */
  | 'ESTRFULL'
  /** The text, rodata or data arena has no free block of that size. */
  | 'ENOSPACE'
  /** The address is not one that this library gave out (another library's, or none at all). */
  | 'EFOREIGN'
  /** The block was already freed. */
  | 'EFREED'
  /** The bytes or the symbol do not fit inside the block. */
  | 'ERANGE'
  /** The call needs the main thread (perf jitdump records; a library belongs to the thread that created it). */
  | 'ETHREAD'
  /** A capacity asked of dlcreate is more than one library can map; the message says the limit. */
  | 'ETOOBIG'
  /** A libc call failed; the message carries dlerror() or errno. */
  | 'ELIBC'
  /** loadObject: the bytes are not an ET_REL object this library can link (a relocation type, a section, TLS; named in the message). */
  | 'EOBJECT'
  /** loadObject: symbols the object needs are defined nowhere (all of them named in the message). */
  | 'EUNDEF';

/** The one error class of dlbind's run-time API. `code` is stable; the message is for people. */
export class DlbindError extends Error {
  /** Always 'DlbindError', also across copies of the package (where instanceof may not hold). */
  override readonly name = 'DlbindError';
  /** Makes an error whose message is `code: message`. */
  constructor(
    /** The stable reason (EINVAL, EFREED, ...); branch on this, not on the message. */
    readonly code: DlbindErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** `err` with `where: ` put before its message when it is a DlbindError (the failing entry of a batch), else `err` itself. */
export function locatedError(err: unknown, where: string): unknown {
  if (!(err instanceof DlbindError)) return err;
  return new DlbindError(err.code, `${where}: ${err.message.slice(err.code.length + 2)}`);
}
