import assert from "node:assert/strict";
import { unsafePatternReason } from "../../shared/api/safe_regex.ts";

const UNSAFE = [
  "^(a+)+$",
  "(a*)*",
  "^(a|aa)+$",
  "(a|a)*b",
  "(|a)+",
  "^(\\w+\\s?)*$",
  "^([a-z0-9]+-?)*[a-z0-9]+$", // the label part of @cfworker's `url` format
  "(x+x+)+y",
  // Found by a hostile-input probe, all passed before (session 13): bounded outer
  // repetitions of a repeated group, and long runs of overlapping repetitions.
  "^(a{1,10}){1,10}$", // 32 a's and a "!": 4.7 s
  "^(a+){10}$", // 3.8 s
  "(\\w{1,9}\\s?){1,9}$",
  "^\\d*\\d*\\d*\\d*x", // 300 digits: 2.4 s
  "^.*.*.*$",
  "a*b*a*b*a*", // on a's the b's match nothing: O(n³)
  // From a review of these rules (session 13), all slow on 5,000 characters or fewer:
  "^(a(?:aa)+)+$", // 0.65 s on 61 characters: the inner "aa" matches the "a" that starts each turn
  "\\d+(\\d+\\d+)x", // 2.5 s on 250 digits: a run split across a group
  "(a|\\w|[a-z]|.){10}!", // 10.5 s on 200 characters: an ambiguous alternation 10 times
  ".*a.*b", // unanchored, so tried from every position: ~23 s on 5,000 characters
  "\\d+\\d+x",
  "^\\S+@\\S+\\.\\S+$", // cubic: "@." × 400 and a space took 44 ms, so 5,000 characters ~10 s
  "(" + "a*".repeat(20) + ")",
  "^(a+){1,1000}$",
  "(?:a+)+",
  "(?<n>a+)*",
  "^(\\d+)*$",
  "(.*a){12}",
  // Alternatives that can start with the same character: 24 a's and a "!" took 413 ms on
  // `^(a|[a-z])+$` before these were refused, and each more character doubles it.
  "^(\\w|\\d)+$",
  "^([ab]|a)+$",
  "^(a|[a-z])+$",
  "^(.|a)+$",
  "^(a?|b)+$",
  "(x(a|[a-z])y)+", // inside the repeated group, not the repeated group itself
  "((a|[a-z]))+",
];

const SAFE = [
  "^[a-z]+$",
  "^\\d{4}-\\d{2}-\\d{2}$",
  "^[a-z0-9]+(\\.[a-z0-9]+)*$", // each turn starts with a "." no inner repetition matches
  "^(-\\d+)+$",
  "^([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}$", // bounded outer repetition
  "^(\\d{1,3}\\.){3}\\d{1,3}$",
  "(foo|bar)+",
  "^[A-Z][a-z]*( [A-Z][a-z]*)*$",
  "a+b+c+",
  "(?:abc)+",
  "[(]+[)]*", // brackets in a class are characters
  "\\(a+\\)+",
  "(a|b)+", // disjoint first characters
  "(\\s|\\S)+",
  "(x(a|b)y)+",
  "^(a|[a-z]){1,3}$", // bounded
  "((ab)*c)*", // each turn ends with a "c" the inner repetition cannot match
  "^(\\d+\\.)+$",
  "^.*a.*b$", // two in a row, anchored: 12 ms on 5,000 characters
  "^\\d+\\d+x",
  "^#([0-9a-fA-F]{3}){1,2}$", // a fixed count is not a repetition
  "^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$",
  "^(\\d{2}[./-]){2}\\d{4}$",
  "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$",
  "^P(?:\\d+Y)?(?:\\d+M)?(?:\\d+D)?(?:T(?:\\d+H)?(?:\\d+M)?(?:\\d+S)?)?$",
  "foo",
  "^[a-z]+@[a-z]+\\.[a-z]+$", // separated by literals
  "^\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?$", // semver
  "^[a-z0-9]+(?:-[a-z0-9]+)*$",
];

Deno.test("nested and overlapping repetitions are unsafe", () => {
  for (const p of UNSAFE) assert.notEqual(unsafePatternReason(p), null, p);
});

Deno.test("ordinary patterns, separated lists and bounded repetitions are safe", () => {
  for (const p of SAFE) assert.equal(unsafePatternReason(p), null, p);
});

Deno.test("the reason names the offending part", () => {
  assert.match(
    unsafePatternReason("^x(a+)+$")!,
    /repetition nested in a repetition in "\(a\+\)\+"/,
  );
  assert.match(unsafePatternReason("(a|aa)+")!, /overlapping alternatives/);
  assert.match(unsafePatternReason("^(\\w|\\d)+$")!, /start with the same character/);
  assert.match(
    unsafePatternReason("(x(a|[a-z])y)+")!,
    /ambiguous alternation \("\(a\|\[a-z\]\)"\)/,
  );
});

Deno.test("a long pattern is refused, and the check stays fast on many alternatives", () => {
  assert.match(unsafePatternReason("a".repeat(1001))!, /longer than 1000 characters/);
  // 1,500 one-character alternatives took the check 2 s when it tried every pair.
  const many = "(" +
    Array.from({ length: 450 }, (_, i) => String.fromCharCode(0x4e01 + i)).join("|") +
    ")+";
  // Figure that decided the linear test: 450 of them took the pairwise one
  // ~600 ms, this one ~5 ms.
  assert.equal(unsafePatternReason(many), null);
  // A 150,000-repetition group overflowed the stack (a 500) before the length cap.
  assert.notEqual(unsafePatternReason("(" + "a*".repeat(150_000) + ")"), null);
});
