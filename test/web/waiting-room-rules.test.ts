// The waiting room's pure rules: how a wait reads in both languages, and the retry back-off
// (exponential, capped, full jitter).
import { describe, expect, it } from 'vitest';
import { dictionaries, formatWait } from '../../web/src/i18n.js';
import { backoffMs } from '../../web/src/fan/backoff.js';

const { en, ko } = dictionaries;

describe('formatWait', () => {
  it('reads a long wait in hours and minutes, never in hundreds of minutes', () => {
    expect(formatWait(en, 500 * 60)).toBe('about 8 h 20 min');
    expect(formatWait(ko, 500 * 60)).toBe('약 8시간 20분');
    expect(formatWait(en, 2 * 3600)).toBe('about 2 h');
    expect(formatWait(ko, 2 * 3600 + 59)).toBe('약 2시간');
    expect(formatWait(en, 3600 + 60)).toBe('about 1 h 1 min');
  });

  it('reads waits under an hour in minutes, with seconds under ten minutes', () => {
    expect(formatWait(en, 59)).toBe('less than a minute');
    expect(formatWait(ko, 59)).toBe('1분 미만');
    expect(formatWait(en, 200)).toBe('about 3 minutes 20 seconds');
    expect(formatWait(en, 59 * 60 + 59)).toBe('about 59 minutes');
    expect(formatWait(ko, 42 * 60)).toBe('약 42분');
  });
});

describe('backoffMs', () => {
  it('doubles the window of each retry from 1 s and caps it at 30 s', () => {
    const top = () => 1;
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((attempt) => backoffMs(attempt, top))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('waits a random time within the window (full jitter), so a crowd does not come back in step', () => {
    expect(backoffMs(3, () => 0)).toBe(0);
    expect(backoffMs(3, () => 0.25)).toBe(2_000);
    const waits = Array.from({ length: 200 }, () => backoffMs(4));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...waits)).toBeLessThanOrEqual(16_000);
    expect(new Set(waits).size).toBeGreaterThan(100);
  });
});
