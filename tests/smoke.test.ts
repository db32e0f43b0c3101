import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STT, STT_FUNC, SHT, PT } from '../src/elf/constants.js';

test('constants print their names, unknown values as range+offset', () => {
  assert.is(STT.name(STT_FUNC), 'STT_FUNC');
  assert.is(SHT.name(0x60000005), 'SHT_LOOS+0x5');
  assert.is(PT.name(0x6474e551), 'PT_GNU_STACK');
});

test.run();
