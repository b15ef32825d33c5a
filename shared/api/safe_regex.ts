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
 * This is a heuristic, not a proof: patterns with star height 1 can still
 * be polynomial (`\d*\d*\d*x`). The trigger path therefore also bounds the
 * length of strings that patterns are run on (params.ts).
 */

/**
 * Repetitions bounded this low (`(\d{1,3}\.){3}`, `([0-9a-f]{1,4}:){7}`)
 * cannot blow up exponentially; higher bounds count as unbounded.
 */
const MAX_SAFE_OUTER = 10;

/** Why `source` is unsafe, or null when it passes both rules. */
export function unsafePatternReason(source: string): string | null {
  const root = newGroup(0);
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
      };
      i = end;
    } else if (ch === "[") {
      const end = classEnd(source, i);
      atom = { start: i, end, group: null, literal: null, quantified: false };
      i = end;
    } else if (ch === "(") {
      const inner = newGroup(i);
      i++;
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
      const parent = stack[stack.length - 1];
      parent.repeated.push(...group.repeated);
      // An ambiguous alternation anywhere inside a repetition multiplies the ways each turn
      // matches: `(x(a|[a-z])y)+` is as exponential as `(a|[a-z])+`.
      parent.ambiguous.push(...group.ambiguous);
      if (sharedFirstChar(group)) parent.ambiguous.push(source.slice(group.start, i + 1));
      i++;
      atom = { start: group.start, end: i, group, literal: null, quantified: false };
      parent.atoms.push(atom);
      continue;
    } else if (ch === "|") {
      group.alternatives.push(source.slice(group.altStart, i));
      group.altStart = i + 1;
      atom = null;
      i++;
      continue;
    } else if (isQuantifierAt(source, i)) {
      const q = quantifierAt(source, i);
      i = q.end;
      if (source[i] === "?") i++; // lazy
      if (atom) atom.quantified = true;
      if (atom && q.max > 1) {
        const text = source.slice(atom.start, atom.end);
        if (q.max > MAX_SAFE_OUTER && atom.group) {
          const reason = nestedReason(atom.group) ??
            (atom.group.ambiguous.length > 0
              ? `an ambiguous alternation ("${atom.group.ambiguous[0]}") repeated`
              : null);
          if (reason) return `${reason} in "${text}${source.slice(atom.end, i)}"`;
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
        literal: ch === "." ? null : ch,
        quantified: false,
      };
      i++;
    }
    group.atoms.push(atom);
  }
  return null;
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
}

interface Atom {
  start: number;
  end: number;
  group: Group | null;
  /** The one character this atom matches, when it is a plain literal. */
  literal: string | null;
  /** Whether a quantifier (even `?`) follows it. */
  quantified: boolean;
}

function newGroup(start: number): Group {
  return { start, altStart: start, alternatives: [], repeated: [], ambiguous: [], atoms: [] };
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
    if (sharedFirstChar(group)) {
      return "alternatives that can start with the same character repeated";
    }
  }
  if (group.repeated.length === 0) return null;
  const first = group.atoms[0];
  const separator = alts.length === 1 && first && !first.quantified ? first.literal : null;
  if (separator !== null && !group.repeated.some((r) => matchesChar(r, separator))) return null;
  return "a repetition nested in a repetition";
}

/** Can two alternatives of `group` start with the same character? */
function sharedFirstChar(group: Group): boolean {
  const firsts = group.alternatives.map(firstAtom);
  for (let a = 0; a < firsts.length; a++) {
    for (let b = a + 1; b < firsts.length; b++) {
      if (mayShareFirstChar(firsts[a], firsts[b])) return true;
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

/** May two first atoms (see `firstAtom`) match the same character? */
function mayShareFirstChar(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return true;
  try {
    const ra = new RegExp(`^(?:${a})$`, "u");
    const rb = new RegExp(`^(?:${b})$`, "u");
    return PROBES.some((ch) => ra.test(ch) && rb.test(ch));
  } catch {
    return true; // unreadable on its own: assume the worst
  }
}

/** Does the atom `source` (a char, class, escape or group) match the character `ch`? */
function matchesChar(source: string, ch: string): boolean {
  try {
    return new RegExp(`^(?:${source})`, "u").test(ch);
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
function quantifierAt(source: string, i: number): { max: number; end: number } {
  const ch = source[i];
  if (ch === "*" || ch === "+") return { max: Infinity, end: i + 1 };
  if (ch === "?") return { max: 1, end: i + 1 };
  const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i))!;
  const max = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]);
  return { max, end: i + m[0].length };
}
