// Pure VRRP timer formulas, in milliseconds (floats, never rounded): Skew_Time and
// Master_Down_Interval for VRRPv2 (RFC 3768 §6.1) and VRRPv3 (RFC 5798 §6.1), with keepalived's
// `down_timer_adverts` in place of the RFC's fixed 3 (keepalived vrrp.h VRRP_MS_DOWN_TIMER).
// Every priority passed here is the EFFECTIVE priority, as keepalived's VRRP_TIMER_SKEW uses.

export type VrrpVersion = 2 | 3;

/** The RFC's multiplier in Master_Down_Interval; keepalived's `down_timer_adverts` default. */
export const DEFAULT_DOWN_TIMER_ADVERTS = 3;

/** Centiseconds (the v3 wire unit, also used for v2 intervals here) to milliseconds. */
export function csToMs(cs: number): number {
  return cs * 10;
}

/**
 * Skew_Time in ms.
 * v2 (RFC 3768 §6.1): (256 − Priority) / 256 seconds, independent of the interval.
 * v3 (RFC 5798 §6.1): ((256 − Priority) × Master_Adver_Interval) / 256.
 */
export function skewTimeMs(version: VrrpVersion, priority: number, masterAdverIntervalCs: number): number {
  if (version === 2) return ((256 - priority) * 1000) / 256;
  return ((256 - priority) * csToMs(masterAdverIntervalCs)) / 256;
}

/**
 * Master_Down_Interval in ms: downTimerAdverts × Master_Adver_Interval + Skew_Time.
 * For v2, pass the local Advertisement_Interval (v2 never learns the master's; both sides must match).
 */
export function masterDownIntervalMs(
  version: VrrpVersion,
  priority: number,
  masterAdverIntervalCs: number,
  downTimerAdverts: number = DEFAULT_DOWN_TIMER_ADVERTS,
): number {
  return downTimerAdverts * csToMs(masterAdverIntervalCs) + skewTimeMs(version, priority, masterAdverIntervalCs);
}
