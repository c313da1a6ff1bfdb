import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/crc32c.js';

describe('crc32c (Castagnoli)', () => {
  it('matches the published check value and the RFC 3720 (iSCSI) test vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('is an unsigned 32-bit number, and sees every byte (a Buffer view at an offset included)', () => {
    const big = Buffer.alloc(65_536, 0xa5);
    const value = crc32c(big);
    expect(Number.isInteger(value) && value >= 0 && value < 2 ** 32).toBe(true);
    big[40_000] = 0xa4;
    expect(crc32c(big)).not.toBe(value);
    const backing = Buffer.from('xx123456789yy');
    expect(crc32c(backing.subarray(2, 11))).toBe(0xe3069283);
  });
});
