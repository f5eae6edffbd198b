// When a partition's next group commit starts. A commit answers the producers it held; each of them sends its
// next message a moment later (one HTTP round trip). Starting the next commit with only what arrived during the
// last one splits steady producers into two cohorts that take turns, each waiting a whole write+fsync for the
// other (measured: 16 connections gave 8.3 messages per commit, 64 gave 28.6). So the next commit waits, for at
// most half a commit's time, until as many appends are queued as the last commit answered plus those already
// waiting; a lone producer, or a partition whose producers have all come back, starts at once.

/**
 * Never hold a commit longer than this for producers to come back, however slow the disk. Waiting costs the
 * appends already queued at most this; not waiting costs the late cohort a whole commit (20-40 ms measured on a
 * busy shared disk, where a 5 ms bound ran out before 32 returning HTTP producers had been parsed).
 */
export const MAX_LINGER_MS = 20;
/** Bound on how many appends a commit waits for (the number of producers of one partition it expects). */
const MAX_EXPECTED = 4096;

export class CommitPacer {
  /** Appends expected before the next commit: those the last commit answered plus those queued then. */
  private expected = 0;
  private lastEndMs = -Infinity;
  /** Smoothed time of one commit (write, and fsync under FSYNC=always). */
  private commitMs = 0;

  constructor(private readonly maxLingerMs = MAX_LINGER_MS) {}

  /** A commit answered `answered` appends after `tookMs`; `queued` appends were waiting when it answered. */
  committed(answered: number, queued: number, tookMs: number, nowMs: number): void {
    this.commitMs = this.commitMs === 0 ? tookMs : 0.8 * this.commitMs + 0.2 * tookMs;
    this.expected = Math.min(MAX_EXPECTED, answered + queued);
    this.lastEndMs = nowMs;
  }

  /** A commit failed, or a wait ran out: expect nobody, so the next append is written at once. */
  reset(): void {
    this.expected = 0;
  }

  /**
   * How long the next commit should wait with `queued` appends waiting: 0 to start now; under 1, until the
   * end of this turn of the event loop (requests parsed in the same turn join); otherwise milliseconds.
   */
  delay(queued: number, nowMs: number): number {
    if (queued >= this.expected) return 0;
    const left = this.lastEndMs + Math.min(this.maxLingerMs, this.commitMs / 2) - nowMs;
    if (left <= 0) return 0;
    return left;
  }
}
