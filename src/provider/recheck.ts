// The runner's "verify now" (VipProvider.watch) as the cloud providers use it:
//   - on a lower-priority advert (announce 'lower-priority'): a MASTER heard a peer that may have
//     taken the VIP in the cloud while it briefly thought itself master (keepalived issue #950): the
//     backend is read now, not at the next reconcile, and a VIP found elsewhere is taken back;
//   - once, right after the first release (a BACKUP at start-up): the first verify then runs at once
//     instead of a reconcile period later, so facts, credentials, the API client and its connection
//     are ready before this node ever has to take over, and /status knows who holds the VIPs from
//     the start. Through the runner, so it is rate-limited and batched with every other instance's.
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
