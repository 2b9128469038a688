// A config problem a person can act on, and its one-line form "path: problem — fix: …".
// Kept free of the schema library so the running agent can print issues without loading it.
export interface ConfigIssue {
  /** Where, like "instances.VI_1.vrid" or "instances.VI_1.vips[2]"; "(file)", "(yaml)" or "(root)" otherwise. */
  path: string;
  /** What is wrong, including what was received. */
  message: string;
  /** What to do about it. */
  fix: string;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.path}: ${i.message} — fix: ${i.fix}`;
}
