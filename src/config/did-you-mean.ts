// "Did you mean": the closest of some candidates to a mistyped word (Damerau-Levenshtein, optimal
// string alignment), or undefined when nothing is a plausible typo. No imports, so both errors.ts and
// schema refinements (hooks-schema.ts) can use it without an import cycle.

/** Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

export const squash = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');

/** The closest candidate, or undefined when nothing is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const w = squash(word);
  if (w === '') return undefined;
  const same = candidates.find((c) => squash(c) === w); // advert_interval → advertInterval, Priority → priority
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, squash(c));
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  const limit = Math.max(1, Math.floor(w.length / 3));
  if (best !== undefined && bestDistance <= limit) return best;
  // A prefix either way: "advert" → advertInterval, "warning" → warn.
  return candidates.find((c) => {
    const sc = squash(c);
    return (w.length >= 4 && sc.startsWith(w)) || (sc.length >= 4 && w.startsWith(sc));
  });
}
