/**
 * Is a regular expression safe to run on untrusted input with a backtracking
 * engine (V8's, which JSON Schema `pattern`s run on)?
 *
 * One trigger with `pattern: "^(a+)+$"` and `"aaaa…!"` blocked the event
 * loop for a minute: the engine tries every way of splitting the a's between
 * the two `+`s. Such patterns are refused at registration by two rules, the
 * classic star-height test (as `safe-regex` does) plus overlapping
 * alternatives:
 *
 * - an unbounded repetition (`*`, `+`, `{n,}`) of a group that itself
 *   contains a repetition is unsafe (`(a+)+`, `(a*b?)*`, `(x+-?)*`) — unless
 *   every turn of the group starts with a literal character that none of the
 *   inner repetitions can match, which makes the split unambiguous
 *   (`(\.[a-z0-9]+)*`, `(-\d+)+`: the usual "separated list");
 * - an unbounded repetition of an alternation where one alternative is a
 *   prefix of another (`(a|aa)+`, `(a|a)*`, `(|a)+`), or where two
 *   alternatives can start with the same character (`(\w|\d)+`,
 *   `(a|[a-z])+`, `(.|a)+`: `^(a|[a-z])+$` on 24 a's and a "!" took 413 ms,
 *   each more character doubles it), is unsafe. The first characters are
 *   compared on probe characters (ASCII and a few others); an alternative
 *   that starts with a group, an anchor or an optional atom is taken to
 *   overlap everything. Such an alternation anywhere inside a repetition
 *   counts too (`(x(a|[a-z])y)+`). This also refuses a few harmless
 *   patterns (`(ab|ac)+`, which reads as well written `a[bc]`).
 *
 * A repetition bounded low (at most `MAX_SAFE_OUTER` turns) of a group with
 * a repetition inside is unsafe too, unless each turn starts or ends with a
 * literal the inner repetitions cannot match (`(\d{1,3}\.){3}`): `^(a{1,10}){1,10}$`
 * on 32 a's and a "!" blocked the server for 4.7 s, `^(a+){10}$` for 3.8 s
 * (found by a hostile-input probe; both passed this check before).
 *
 * Patterns with star height 1 can still be polynomial: three or more
 * unbounded repetitions in a row that can match the same characters, with no
 * literal between them that the one before cannot match, are unsafe
 * (`^\d*\d*\d*\d*x`: 300 digits took 2.4 s; `.*a.*b` and
 * `^[a-z]+@[a-z]+\.[a-z]+$` stay safe). Two in a row are allowed: the trigger
 * path bounds the length of strings that patterns are run on (params.ts),
 * which bounds their square.
 *
 * A pattern longer than `MAX_PATTERN_LENGTH` is refused outright: the check
 * itself must stay cheap (it also runs on every trigger), and 1,500
 * alternatives of one character each took it 2 s before its first-character
 * test became linear.
 *
 * This is a heuristic, not a proof.
 */

/** Longest pattern the check reads (a JSON Schema `pattern` is rarely a tenth of it). */
export const MAX_PATTERN_LENGTH = 1_000;

/** Unbounded repetitions in a row, able to match the same text, that are still allowed. */
const MAX_OVERLAPPING_RUN = 2;

/**
 * Repetitions bounded this low (`(\d{1,3}\.){3}`, `([0-9a-f]{1,4}:){7}`)
 * cannot blow up exponentially; higher bounds count as unbounded.
 */
const MAX_SAFE_OUTER = 10;

/** Turns an alternation whose alternatives overlap may take (2^3 ways at most). */
const MAX_SAFE_AMBIGUOUS = 3;

/**
 * Verdicts already reached, by pattern: the check also runs on every trigger
 * of a flow, and a long nested pattern took it up to 0.5 s (a review).
 * Cleared when full.
 */
const VERDICTS = new Map<string, string | null>();
const MAX_VERDICTS = 1_000;

/** Why `source` is unsafe, or null when it passes every rule. */
export function unsafePatternReason(source: string): string | null {
  if (source.length > MAX_PATTERN_LENGTH) {
    return `longer than ${MAX_PATTERN_LENGTH} characters`;
  }
  const known = VERDICTS.get(source);
  if (known !== undefined) return known;
  const verdict = check(source);
  if (VERDICTS.size >= MAX_VERDICTS) VERDICTS.clear();
  VERDICTS.set(source, verdict);
  return verdict;
}

function check(source: string): string | null {
  const root = newGroup(0);
  root.root = true;
  const stack: Group[] = [root];
  let atom: Atom | null = null;
  let i = 0;
  while (i < source.length) {
    const group = stack[stack.length - 1];
    const ch = source[i];
    if (ch === "\\") {
      const end = escapeEnd(source, i);
      atom = {
        start: i,
        end,
        group: null,
        literal: literalOf(source.slice(i, end)),
        quantified: false,
        max: 1,
      };
      i = end;
    } else if (ch === "[") {
      const end = classEnd(source, i);
      atom = { start: i, end, group: null, literal: null, quantified: false, max: 1 };
      i = end;
    } else if (ch === "(") {
      const inner = newGroup(i);
      i++;
      // (?=  (?!  (?<=  (?<!: zero-width, never part of a run of repetitions.
      inner.lookaround = source[i] === "?" &&
        (source[i + 1] === "=" || source[i + 1] === "!" ||
          (source[i + 1] === "<" && (source[i + 2] === "=" || source[i + 2] === "!")));
      if (source[i] === "?") {
        // (?:  (?=  (?!  (?<=  (?<!  (?<name>
        if (source[i + 1] === "<" && source[i + 2] !== "=" && source[i + 2] !== "!") {
          i = source.indexOf(">", i) + 1 || source.length;
        } else i += source[i + 1] === "<" ? 3 : 2;
      }
      inner.altStart = i;
      stack.push(inner);
      atom = null;
      continue;
    } else if (ch === ")" && stack.length > 1) {
      stack.pop();
      group.alternatives.push(source.slice(group.altStart, i));
      const run = overlappingRun(group, source);
      if (run) return run;
      const parent = stack[stack.length - 1];
      for (const x of group.repeated) parent.repeated.push(x);
      // An ambiguous alternation anywhere inside a repetition multiplies the ways each turn
      // matches: `(x(a|[a-z])y)+` is as exponential as `(a|[a-z])+`.
      for (const x of group.ambiguous) parent.ambiguous.push(x);
      if (group.unbounded) parent.unbounded = true;
      // A group whose turns a separator decides counts as one repetition.
      // Decided once the group is read whole, then looked up wherever it is repeated.
      group.separated = separated(group);
      group.sharedFirst = sharedFirstChar(group);
      group.contribution = group.unboundedCount > 0 && group.separated ? 1 : group.unboundedCount;
      parent.unboundedCount += group.contribution;
      if (group.sharedFirst) parent.ambiguous.push(source.slice(group.start, i + 1));
      i++;
      atom = { start: group.start, end: i, group, literal: null, quantified: false, max: 1 };
      parent.atoms.push(atom);
      continue;
    } else if (ch === "|") {
      group.alternatives.push(source.slice(group.altStart, i));
      group.altStart = i + 1;
      group.breaks.push(group.atoms.length);
      atom = null;
      i++;
      continue;
    } else if (isQuantifierAt(source, i)) {
      const q = quantifierAt(source, i);
      i = q.end;
      if (source[i] === "?") i++; // lazy
      if (atom) {
        atom.quantified = true;
        atom.max = q.max;
      }
      if (q.max > MAX_SAFE_OUTER) {
        group.unbounded = true;
        if (!(atom?.group && atom.group.contribution > 0 && atom.group.separated)) {
          group.unboundedCount += 1;
        }
      }
      // A fixed count (`{3}`) matches one way: not a repetition to split.
      if (atom && q.max > 1 && q.min === q.max && !atom.group) atom = null;
      if (atom && q.max > 1) {
        const text = source.slice(atom.start, atom.end);
        if (q.max > MAX_SAFE_OUTER && atom.group) {
          const reason = nestedReason(atom.group) ??
            (atom.group.ambiguous.length > 0
              ? `an ambiguous alternation ("${atom.group.ambiguous[0]}") repeated`
              : null);
          if (reason) return `${reason} in "${text}${source.slice(atom.end, i)}"`;
        } else if (atom.group && atom.group.repeated.length > 0 && !atom.group.separated) {
          // Few turns, but each may split its text among the inner repetitions
          // in many ways: `(a{1,10}){1,10}` has 10^10 ways to fail.
          return `a repetition nested in a repetition in "${text}${source.slice(atom.end, i)}"`;
        } else if (
          atom.group && q.max > MAX_SAFE_AMBIGUOUS &&
          (atom.group.ambiguous.length > 0 || atom.group.sharedFirst)
        ) {
          // `(a|\w|[a-z]|.){10}!`: 4^10 ways per start, 10 s on 200 characters.
          return `an ambiguous alternation repeated ${q.max} times in "${text}${
            source.slice(atom.end, i)
          }"`;
        }
        group.repeated.push(text);
      }
      atom = null;
      continue;
    } else {
      atom = {
        start: i,
        end: i + 1,
        group: null,
        literal: ch === "." || ch === "^" || ch === "$" ? null : ch,
        quantified: false,
        max: 1,
      };
      i++;
    }
    group.atoms.push(atom);
  }
  return overlappingRun(root, source);
}

/** A group being read: its alternatives, the repeated atoms inside it, its atoms in order. */
interface Group {
  start: number;
  altStart: number;
  alternatives: string[];
  /** Source text of every repeated atom anywhere inside the group. */
  repeated: string[];
  /** Source text of every alternation inside the group whose alternatives share a first character. */
  ambiguous: string[];
  /** The group's own atoms (first one decides the "separator" exception). */
  atoms: Atom[];
  /** Indexes into `atoms` where each alternative after the first begins. */
  breaks: number[];
  /** Whether an unbounded repetition is anywhere inside it. */
  unbounded: boolean;
  /** How many unbounded repetitions are inside it (nested ones included). */
  unboundedCount: number;
  /** What it adds to its parent's count once closed. */
  contribution: number;
  /** Once closed: does a separator decide each of its turns (see `separated`)? */
  separated: boolean;
  /** Once closed: can two of its alternatives start with the same character? */
  sharedFirst: boolean;
  /** A lookahead or lookbehind (matches no text). */
  lookaround: boolean;
  /** The whole pattern. */
  root: boolean;
}

interface Atom {
  start: number;
  end: number;
  group: Group | null;
  /** The one character this atom matches, when it is a plain literal. */
  literal: string | null;
  /** Whether a quantifier (even `?`) follows it. */
  quantified: boolean;
  /** Its quantifier's largest count (1 without one). */
  max: number;
}

function newGroup(start: number): Group {
  return {
    start,
    altStart: start,
    alternatives: [],
    repeated: [],
    ambiguous: [],
    atoms: [],
    breaks: [],
    unbounded: false,
    unboundedCount: 0,
    contribution: 0,
    separated: false,
    sharedFirst: false,
    lookaround: false,
    root: false,
  };
}

/** Why an unbounded repetition of `group` is unsafe, or null. */
function nestedReason(group: Group): string | null {
  const alts = group.alternatives;
  if (alts.length > 1) {
    for (let a = 0; a < alts.length; a++) {
      for (let b = 0; b < alts.length; b++) {
        if (a !== b && alts[b].startsWith(alts[a])) return "overlapping alternatives repeated";
      }
    }
    if (group.sharedFirst) {
      return "alternatives that can start with the same character repeated";
    }
  }
  if (group.repeated.length === 0 || group.separated) return null;
  return "a repetition nested in a repetition";
}

/**
 * Does every turn of `group` start or end with a literal character that none
 * of its inner repetitions can match? Then where one turn ends is decided by
 * the text: `(\.[a-z0-9]+)*`, `(\d{1,3}\.){3}`.
 */
function separated(group: Group): boolean {
  if (group.alternatives.length !== 1) return false;
  for (const edge of [group.atoms[0], group.atoms[group.atoms.length - 1]]) {
    const separator = edge && !edge.quantified ? edge.literal : null;
    if (separator !== null && !group.repeated.some((r) => matchesChar(r, separator))) return true;
  }
  return false;
}

/**
 * Three or more unbounded repetitions in a row (in one alternative of
 * `group`) that can match a same character, with no literal between them
 * that none of them can match: `\d*\d*\d*` fails in O(n³), and so does
 * `a*b*a*b*a*` on a's (the b's match nothing). A group with an unbounded
 * repetition inside counts as one. Each repetition is tried once on every
 * probe character; a run fails when a probe is matched by more than
 * `MAX_OVERLAPPING_RUN` of them.
 */
function overlappingRun(group: Group, source: string): string | null {
  const starts = new Set(group.breaks);
  let counts = new Map<string, number>();
  let members: string[] = [];
  let first = -1;
  const begin = (k: number) => {
    counts = new Map();
    members = [];
    // An unanchored pattern is tried from every position: as if it began with
    // `[\s\S]*?`, one more repetition that matches everything.
    const atom = group.atoms[k];
    if (group.root && (!atom || source[atom.start] !== "^")) {
      for (const ch of PROBES) counts.set(ch, 1);
      members.push("[\\s\\S]");
      first = atom ? atom.start : source.length;
    }
  };
  begin(0);
  for (let k = 0; k < group.atoms.length; k++) {
    if (starts.has(k)) begin(k);
    const atom = group.atoms[k];
    const text = source.slice(atom.start, atom.end);
    // A group counts its repetitions inside, unless a separator decides each
    // of its turns (`(\.[a-z]+)*`): then it is one repetition.
    let weight = atom.max > MAX_SAFE_OUTER ? 1 : 0;
    if (atom.group && !atom.group.lookaround && atom.group.unboundedCount > 0) {
      weight = atom.group.separated ? 1 : weight + atom.group.unboundedCount;
    }
    if (weight > 0) {
      if (members.length === 0) first = atom.start;
      members.push(text);
      for (const ch of probesMatched(text)) {
        const n = (counts.get(ch) ?? 0) + weight;
        counts.set(ch, n);
        if (n > MAX_OVERLAPPING_RUN) {
          return `${n} repetitions in a row that can match the same text in "${
            source.slice(first, atom.end)
          }"${source[0] === "^" ? "" : " (an unanchored pattern is tried from every position)"}`;
        }
      }
    } else if (members.length > 0 && !atom.quantified && atom.literal !== null) {
      // A literal none of the repetitions before can match ends the run.
      const literal = atom.literal;
      if (!members.some((m) => matchesChar(m, literal))) {
        counts = new Map();
        members = [];
      }
    }
  }
  return null;
}

/** The probe characters the atom `source` (a char, class, escape or group) can start with. */
function probesMatched(source: string): string[] {
  try {
    const re = new RegExp(`^(?:${source})`, "u");
    return PROBES.filter((ch) => re.test(ch.repeat(PROBE_RUN)));
  } catch {
    return PROBES; // unreadable on its own: assume the worst
  }
}

/**
 * Can two alternatives of `group` start with the same character? Each first
 * atom is tried once on every probe character (two alternatives share one
 * when a probe is matched twice): linear in the alternatives, where trying
 * every pair was quadratic (1,500 one-character alternatives: 2 s).
 */
function sharedFirstChar(group: Group): boolean {
  if (group.alternatives.length < 2) return false;
  const seen = new Set<string>();
  for (const alternative of group.alternatives) {
    const first = firstAtom(alternative);
    if (first === null) return true;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${first})$`, "u");
    } catch {
      return true; // unreadable on its own: assume the worst
    }
    for (const ch of PROBES) {
      if (!re.test(ch)) continue;
      if (seen.has(ch)) return true;
      seen.add(ch);
    }
  }
  return false;
}

/**
 * The first atom of an alternative when it is one character wide and not
 * optional (a literal, class, escape or `.`); null when it may match
 * nothing or more than one character (a group, an anchor, `a?`, `a*`).
 */
function firstAtom(alternative: string): string | null {
  const ch = alternative[0];
  if (ch === undefined || "()^$|*+?{".includes(ch)) return null;
  let end = 1;
  if (ch === "\\") {
    end = escapeEnd(alternative, 0);
    // \b \B are anchors; \1 … are backreferences: either may match nothing.
    if (/^\\[bB1-9k]/.test(alternative)) return null;
  } else if (ch === "[") end = classEnd(alternative, 0);
  const next = alternative[end];
  if (next === "?" || next === "*" || (next === "{" && /^\{0[,}]/.test(alternative.slice(end)))) {
    return null;
  }
  return alternative.slice(0, end);
}

/** How many times a probe character is repeated when an atom is tried on it. */
const PROBE_RUN = 8;

/** Probe characters for overlap between first atoms: ASCII and a few beyond it. */
const PROBES = [
  ...Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)),
  "\u00a0",
  "\u00e9",
  "\u00df",
  "\u0416",
  "\u2028",
  "\u4e2d",
  "\u{1F600}",
];

/** Does the atom `source` (a char, class, escape or group) match the character `ch`? */
function matchesChar(source: string, ch: string): boolean {
  try {
    // The character repeated: an atom of several characters (`(?:aa)`) can
    // match it too, which one character alone does not show.
    return new RegExp(`^(?:${source})`, "u").test(ch.repeat(PROBE_RUN));
  } catch {
    return true; // unreadable on its own: assume the worst
  }
}

/** The character a literal atom (`-`, `\.`, `\/`) matches, or null for anything else. */
function literalOf(escape: string): string | null {
  if (escape.length === 2 && /[^A-Za-z0-9]/.test(escape[1])) return escape[1];
  return null;
}

/** End (exclusive) of the escape sequence at `i`: `\d`, `\u{1F600}`, `\p{L}`, `\x41`, `\1`. */
function escapeEnd(source: string, i: number): number {
  const next = source[i + 1];
  if ((next === "u" || next === "p" || next === "P") && source[i + 2] === "{") {
    const close = source.indexOf("}", i);
    return close < 0 ? source.length : close + 1;
  }
  if (next === "u") return Math.min(source.length, i + 6);
  if (next === "x") return Math.min(source.length, i + 4);
  if (next === "c") return Math.min(source.length, i + 3);
  return Math.min(source.length, i + 2);
}

/** End (exclusive) of the character class starting at `i`. */
function classEnd(source: string, i: number): number {
  let j = i + 1;
  if (source[j] === "^") j++;
  if (source[j] === "]") j++; // a leading ] is literal in non-u mode; harmless otherwise
  for (; j < source.length; j++) {
    if (source[j] === "\\") j++;
    else if (source[j] === "]") return j + 1;
  }
  return source.length;
}

function isQuantifierAt(source: string, i: number): boolean {
  const ch = source[i];
  return ch === "*" || ch === "+" || ch === "?" ||
    (ch === "{" && /^\{\d+(,\d*)?\}/.test(source.slice(i)));
}

/** The quantifier at `i`: its largest repeat count and where it ends. */
function quantifierAt(source: string, i: number): { min: number; max: number; end: number } {
  const ch = source[i];
  if (ch === "*") return { min: 0, max: Infinity, end: i + 1 };
  if (ch === "+") return { min: 1, max: Infinity, end: i + 1 };
  if (ch === "?") return { min: 0, max: 1, end: i + 1 };
  const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i))!;
  const max = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]);
  return { min: Number(m[1]), max, end: i + m[0].length };
}
