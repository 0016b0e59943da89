// The simulator's progress: redrawn in place on a terminal, a plain line every few seconds in a log.
import { describe, expect, it, vi } from 'vitest';
import { progressWriter } from '../../scripts/lib/stats.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (text: string) => writes.push(text) } as unknown as NodeJS.WriteStream };
}

describe('progressWriter', () => {
  it('redraws one line with \\r on a terminal', () => {
    const { writes, stream } = fakeStream(true);
    const progress = progressWriter(stream);
    for (let i = 0; i < 10; i++) progress(i / 10, `step ${i}`);
    progress(1, 'done', true);
    expect(writes).toHaveLength(11);
    expect(writes.every((w) => w.startsWith('\r'))).toBe(true);
    expect(writes.at(-1)!.endsWith('\n')).toBe(true);
  });

  it('prints a plain line at most every 5 s where it cannot redraw, and always the last one', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const { writes, stream } = fakeStream(false);
      const progress = progressWriter(stream);
      for (let t = 0; t <= 12_000; t += 250) {
        vi.setSystemTime(t);
        progress(t / 12_000, `at ${t}`);
      }
      progress(1, 'done', true);
      expect(writes).toEqual(['[0%] at 0\n', '[42%] at 5000\n', '[83%] at 10000\n', '[100%] done\n']);
      expect(writes.join('').includes('\r') || writes.join('').includes('\u001b')).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
