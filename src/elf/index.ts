export { ElfFormatError, ElfBuildError } from './errors.js';
export type * from './types.js';
export * as elf from './constants.js';
