import { describe, expect, it } from 'vitest';
import { addSample, finishedTotal, niceMax, rates } from '@/lib/throughput';

describe('throughput', () => {
  it('turns succeeded+failed counters into jobs per second', () => {
    const total = finishedTotal({
      queues: [
        { name: 'a', queued: 0, running: 0, enqueued: 9, succeeded: 5, failed: 1, retried: 0, recovered: 0, cancelled: 0 },
        { name: 'b', queued: 0, running: 0, enqueued: 9, succeeded: 2, failed: 0, retried: 0, recovered: 0, cancelled: 3 },
      ],
      scheduled: 0,
      dead: 0,
      workers: 1,
    });
    expect(total).toBe(8);
    expect(
      rates([
        { t: 0, finished: 8 },
        { t: 2000, finished: 18 },
        { t: 4000, finished: 18 },
      ]),
    ).toEqual([
      { t: 2000, perSec: 5 },
      { t: 4000, perSec: 0 },
    ]);
  });

  it('counts a counter that went down (reset) as zero, not negative', () => {
    expect(rates([{ t: 0, finished: 100 }, { t: 1000, finished: 3 }])[0].perSec).toBe(0);
  });

  it('keeps only the window, plus one sample before it for the first delta', () => {
    let s = [] as { t: number; finished: number }[];
    for (let t = 0; t <= 10_000; t += 1000) s = addSample(s, { t, finished: t / 1000 }, 5000);
    expect(s[0].t).toBe(5000);
    expect(s[s.length - 1].t).toBe(10_000);
  });

  it('picks round axis maxima', () => {
    expect([0, 0.3, 1, 1.2, 3, 7, 42].map(niceMax)).toEqual([1, 0.5, 1, 2, 5, 10, 50]);
  });
});
