// Eventual consistency for the EC2 emulator's route tables and Elastic IPs, on the test's clock:
// after lagRoutesAndAddresses(state, now, ms), a ReplaceRoute or AssociateAddress is checked and
// answered as before, but what it changed shows (in DescribeRouteTables / DescribeAddresses and the
// state's maps) only once now() >= the call's time + ms — as real EC2, whose describes lag behind a
// change by seconds. The emulator models that lag for private-address moves only (remapDelayMs);
// this wraps one Ec2State instance for the tests that need it, leaving the emulator itself alone.
// Changes are applied whole, in call order: a later call's snapshot wins.
import type { Ec2State } from '../emulators/aws/ec2-state.js';

export function lagRoutesAndAddresses(state: Ec2State, now: () => number, delayMs: number): void {
  const pending: Array<{ at: number; apply: () => void }> = [];
  const settle = state.settle.bind(state);
  state.settle = () => {
    settle();
    while (pending.length > 0 && pending[0]!.at <= now()) pending.shift()!.apply();
  };

  const replaceRoute = state.replaceRoute.bind(state);
  state.replaceRoute = (o) => {
    const rtb = state.routeTables.get(o.routeTableId);
    const before = rtb?.routes.map((r) => ({ ...r }));
    replaceRoute(o); // checks (errors as before) and applies
    if (!rtb || !before) return;
    const after = rtb.routes.map((r) => ({ ...r }));
    rtb.routes.splice(0, rtb.routes.length, ...before); // not visible yet
    pending.push({ at: now() + delayMs, apply: () => void rtb.routes.splice(0, rtb.routes.length, ...after) });
  };

  const associateAddress = state.associateAddress.bind(state);
  state.associateAddress = (o) => {
    const snapshot = () => [...state.addresses.values()].map((a) => [a, { ...a }] as const);
    const before = snapshot();
    const id = associateAddress(o);
    const after = snapshot();
    const restore = (s: typeof before) => {
      for (const [a, fields] of s) {
        for (const k of Object.keys(a) as Array<keyof typeof a>) delete a[k];
        Object.assign(a, fields);
      }
    };
    restore(before);
    pending.push({ at: now() + delayMs, apply: () => restore(after) });
    return id;
  };
}
