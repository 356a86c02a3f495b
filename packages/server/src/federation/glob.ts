/**
 * Claim patterns: exact text, or a glob where `*` matches any run of characters (possibly empty). No
 * other character is special and nothing is escaped. Matching is a linear two-pointer scan, not a
 * regular expression, so no pattern can make it backtrack catastrophically.
 */

/** Whether `value` matches `pattern` as a whole (anchored at both ends). */
export function globMatches(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  // Where the last `*` was seen, and the value position it is currently assumed to cover up to.
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star !== -1) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The text before the first `*`: what a pattern fixes literally. */
export function literalPrefix(pattern: string): string {
  const star = pattern.indexOf('*');
  return star === -1 ? pattern : pattern.slice(0, star);
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}
