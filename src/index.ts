export * from './elf/index.js';
export * from './api/index.js';
