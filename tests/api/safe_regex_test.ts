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
  "^(a+){1,1000}$",
  "((ab)*c)*",
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
