// The runner's "verify now" as the alibaba provider uses it (VipProvider.watch):
//   - on a lower-priority advert (announce 'lower-priority'): a MASTER heard a peer that may have
//     announced the HaVip while it briefly thought itself master, so MasterInstanceId is read now, not
//     at the next reconcile (a verify that finds another master makes the runner re-announce);
//   - once, right after the first release (a BACKUP at start-up): the first verify runs at once, so
//     the facts, the credentials and the VPC client are ready before this node ever takes over, an
//     instance that is not associated is reported from the start (and `associate: at-start` runs),
//     and /status knows the master. Through the runner: rate-limited and batched (verifyMany).
export class Recheck {
  private fn: (() => void) | null = null;
  private warmed = false;

  /** The runner's callback (watch()). */
  set(fn: () => void): void {
    this.fn = fn;
  }

  announce(reason: 'lower-priority' | 'refresh'): void {
    if (reason === 'lower-priority') this.fn?.();
  }

  /** Call at the end of release(): the first time, verify once the runner has taken the result in. */
  released(): void {
    if (this.warmed) return;
    this.warmed = true;
    setImmediate(() => this.fn?.());
  }
}
