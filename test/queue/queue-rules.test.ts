// The pure rules behind a waiting fan's numbers: estimated wait and how soon to poll again.
import { describe, expect, it } from 'vitest';
import { estimateWaitSeconds, MAX_ESTIMATE_SECONDS, pollAfterSeconds } from '../../src/queue/queue.service.js';

const settings = { activeLimit: 100, activeTtlSeconds: 600 };
const timings = { waitingIdleSeconds: 60, activeTtlSeconds: 600 };

describe('estimated wait', () => {
  it('is position over the measured admission rate', () => {
    expect(estimateWaitSeconds(120, 60, settings)).toBe(120);
    expect(estimateWaitSeconds(1, 600, settings)).toBe(1);
  });

  it('is 0 for a token that is not waiting', () => {
    expect(estimateWaitSeconds(0, 60, settings)).toBe(0);
  });

  it('assumes each slot turns over once per active time when nothing was admitted lately', () => {
    expect(estimateWaitSeconds(200, 0, settings)).toBe(1_200);
  });

  it('stays bounded when the line is closed (limit 0) or very long', () => {
    expect(estimateWaitSeconds(1_000_000, 0, { activeLimit: 0, activeTtlSeconds: 600 })).toBe(MAX_ESTIMATE_SECONDS);
    expect(estimateWaitSeconds(10_000_000, 1, settings)).toBe(MAX_ESTIMATE_SECONDS);
  });
});

describe('poll interval', () => {
  it('is one second near the front', () => {
    expect(pollAfterSeconds({ status: 'WAITING', position: 3 }, 5_000, timings)).toBe(1);
  });

  it('grows with the wait far back, up to 30 s', () => {
    expect(pollAfterSeconds({ status: 'WAITING', position: 500 }, 100, timings)).toBe(10);
    expect(pollAfterSeconds({ status: 'WAITING', position: 50_000 }, 50_000, timings)).toBe(20);
    expect(pollAfterSeconds({ status: 'WAITING', position: 50_000 }, 50_000, { waitingIdleSeconds: 600, activeTtlSeconds: 600 })).toBe(30);
  });

  it('never lets a client that honours it be abandoned for silence', () => {
    for (const idle of [3, 10, 60, 90]) {
      const after = pollAfterSeconds({ status: 'WAITING', position: 1e6 }, 1e6, { waitingIdleSeconds: idle, activeTtlSeconds: 600 });
      expect(after).toBeLessThanOrEqual(Math.max(1, idle / 3));
    }
  });

  it('never makes an admitted fan learn of it late in a short active time', () => {
    const after = pollAfterSeconds({ status: 'WAITING', position: 1e6 }, 1e6, { waitingIdleSeconds: 600, activeTtlSeconds: 8 });
    expect(after).toBe(2);
  });
});
