import { describe, expect, it } from 'vitest';
import { formatAge, formatDuration, MAX_DURATION_MS, parseDuration } from '../src/duration.js';

describe('parseDuration', () => {
  it('reads a number and a unit: ms, s, m, h, d (decimals allowed)', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('60m')).toBe(3_600_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(' 2m ')).toBe(120_000);
    expect(parseDuration('0s')).toBe(0);
  });

  it('refuses anything else, saying what is accepted, quoting only short text', () => {
    for (const text of ['60', '1 h', '1H', 'h', '-5m', '1e3s', '1w', '', '1h30m', '.5h', '5.m', '0x10s']) {
      expect(() => parseDuration(text), text).toThrow(/write a number and a unit, ms, s, m, h or d/);
    }
    expect(() => parseDuration('x'.repeat(100))).toThrow('invalid duration (100 characters, not shown)');
    expect(() => parseDuration('99999999d')).toThrow(/longer than 10 years/);
    expect(parseDuration(`${MAX_DURATION_MS}ms`)).toBe(MAX_DURATION_MS);
  });
});

describe('formatDuration and formatAge', () => {
  it('formatDuration writes the largest whole unit', () => {
    expect([3_600_000, 90_000, 86_400_000, 500, 1_500, 0].map(formatDuration)).toEqual([
      '1h',
      '90s',
      '1d',
      '500ms',
      '1500ms',
      '0ms',
    ]);
    for (const ms of [500, 30_000, 3_600_000, 604_800_000, 5_400_000])
      expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  it('formatAge is for people', () => {
    expect([0, 4_400, 59_000, 61_000, 3_600_000, 3_660_000, 86_400_000, 90_000_000].map(formatAge)).toEqual([
      '0s',
      '4s',
      '59s',
      '1m',
      '1h',
      '1h 1m',
      '1d',
      '1d 1h',
    ]);
  });
});
