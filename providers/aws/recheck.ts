// The runner's "verify now" as the aws modes use it (VipProvider.watch):
//   - on a lower-priority advert (announce 'lower-priority'): a MASTER heard a peer that may have
//     grabbed the VIP in EC2 while it briefly thought itself master (keepalived issue #950), so EC2 is
//     read now, not at the next reconcile;
//   - once, right after the first release (a BACKUP at start-up): the first verify then runs at once
//     instead of a reconcile period later, so the facts, the credentials, the EC2 client and its
//     connection are ready before this node ever has to take over (the first EC2 request of a
//     failover is not the one that pays for them), and /status knows who holds the VIPs from the
//     start. Through the runner, so it is rate-limited and batched with every other instance's.
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

  /** Call at the end of release(): the first time, verify as soon as the runner has taken the result in. */
  released(): void {
    if (this.warmed) return;
    this.warmed = true;
    // setImmediate: after the runner has settled the release (its goal is then reached, and only a
    // reached goal is verified).
    setImmediate(() => this.fn?.());
  }
}
