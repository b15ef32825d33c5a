/**
 * Limits on GraphQL requests, checked before anything executes.
 *
 * Without them one request could ask for 10,000 aliases, 50 × `runs(limit:
 * 50) { steps }` (2,500 run reads), or 5,000 nested selections, which
 * overflowed the stack of graphql-js's recursive parser and answered
 * "internal error". The order matters:
 *
 * 1. nesting of `{ ( [` is counted by a flat scan of the text, so no
 *    recursive code (parser, validator) ever sees a deep document;
 * 2. the parser gets a token budget (`maxTokens`), so alias floods stop early;
 * 3. graphql-js validates (syntax and validation errors become 400s);
 * 4. fields, aliases, depth and cost are counted on the operation that will
 *    run, fragments expanded (memoised, so a fragment "bomb" costs nothing to
 *    count), and string literals with a NUL character are refused: Postgres
 *    text cannot hold one.
 *
 * Cost: every field costs 1, and a list field multiplies the cost of what is
 * selected under it by how many items it may return: `runs` by its `limit`
 * (default 20), `registeredFlows`/`deployments` by 100, `steps` by 10. So
 * `runs(limit: 50) { steps { slug } }` costs 1 + 50 × (1 + 10 × 1) = 551.
 */
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  validate,
  visit,
} from "graphql";

/** The limits (documented defaults; the README lists them). */
export const GRAPHQL_LIMITS = {
  /** Deepest nesting of `{`, `(` and `[` in the query text. */
  maxNesting: 32,
  /** Tokens the parser reads at most. */
  maxTokens: 10_000,
  /** Deepest field selection (`runs { steps { slug } }` is 3). */
  maxDepth: 10,
  /** Fields selected, fragments expanded. */
  maxFields: 500,
  /** Aliased fields in the document. */
  maxAliases: 100,
  /** Estimated cost (see the module header). */
  maxCost: 10_000,
};

/** How many items a list field may return, for the cost estimate. */
const LIST_SIZE: Record<string, number> = { registeredFlows: 100, deployments: 100, steps: 10 };
const DEFAULT_RUNS_LIMIT = 20;
const MAX_RUNS_LIMIT = 500;

/** A parsed, validated document within the limits, or the errors that refuse it (a 400). */
export type PreparedQuery =
  | { ok: true; document: DocumentNode }
  | { ok: false; errors: GraphQLError[] };

/** Parses, validates and measures `source` (see the module header). */
export function prepareQuery(
  schema: GraphQLSchema,
  source: string,
  variables: Record<string, unknown> | null | undefined,
  operationName: string | null | undefined,
): PreparedQuery {
  const nesting = nestingDepth(source);
  if (nesting > GRAPHQL_LIMITS.maxNesting) {
    return refuse(
      `the query is nested ${nesting} levels deep; at most ${GRAPHQL_LIMITS.maxNesting}`,
    );
  }
  let document: DocumentNode;
  try {
    document = parse(source, { maxTokens: GRAPHQL_LIMITS.maxTokens });
  } catch (err) {
    if (err instanceof GraphQLError) return { ok: false, errors: [err] };
    throw err;
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) return { ok: false, errors: [...invalid] };
  const nul = nulStrings(document);
  if (nul.length > 0) return { ok: false, errors: nul };
  const operation = pickOperation(document, operationName);
  if (!operation) return { ok: true, document }; // graphql-js reports the missing operation
  const problems = measure(document, operation, variables ?? {});
  return problems.length > 0 ? { ok: false, errors: problems } : { ok: true, document };
}

function refuse(message: string, code = "QUERY_TOO_COMPLEX"): PreparedQuery {
  return { ok: false, errors: [new GraphQLError(message, { extensions: { code } })] };
}

/**
 * Deepest nesting of `{`, `(` and `[` outside strings and comments: one
 * pass, no recursion, so a 100,000-level query costs a loop, not the stack.
 */
export function nestingDepth(source: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === "#") {
      while (i < source.length && source[i] !== "\n" && source[i] !== "\r") i++;
    } else if (ch === '"') {
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3);
        // Escaped \""" inside a block string: keep looking past it.
        let close = end;
        while (close > 0 && source[close - 1] === "\\") close = source.indexOf('"""', close + 3);
        i = close < 0 ? source.length : close + 2;
      } else {
        for (i++; i < source.length && source[i] !== '"' && source[i] !== "\n"; i++) {
          if (source[i] === "\\") i++;
        }
      }
    } else if (ch === "{" || ch === "(" || ch === "[") max = Math.max(max, ++depth);
    else if (ch === "}" || ch === ")" || ch === "]") depth--;
  }
  return max;
}

/** String literals holding U+0000, as validation errors at their locations. */
function nulStrings(document: DocumentNode): GraphQLError[] {
  const errors: GraphQLError[] = [];
  visit(document, {
    StringValue(node) {
      if (node.value.includes("\u0000")) {
        errors.push(
          new GraphQLError("a string must not contain NUL (\\u0000) characters", {
            nodes: [node],
            extensions: { code: "BAD_USER_INPUT" },
          }),
        );
      }
    },
  });
  return errors;
}

function pickOperation(
  document: DocumentNode,
  name: string | null | undefined,
): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode =>
    d.kind === Kind.OPERATION_DEFINITION
  );
  if (name) return operations.find((o) => o.name?.value === name);
  return operations.length === 1 ? operations[0] : undefined;
}

/** Size of a selection set, fragments expanded. */
interface Size {
  fields: number;
  depth: number;
  cost: number;
}

/** Counts fields, aliases, depth and cost of `operation` against the limits. */
function measure(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): GraphQLError[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  }
  const memo = new Map<string, Size>();
  // Validation has refused fragment cycles and the text scan bounded nesting,
  // so this recursion is as deep as the document's fragment chain at most.
  const sizeOf = (set: SelectionSetNode | undefined): Size => {
    const total: Size = { fields: 0, depth: 0, cost: 0 };
    for (const selection of set?.selections ?? []) {
      let part: Size;
      if (selection.kind === Kind.FIELD) {
        const below = sizeOf(selection.selectionSet);
        part = {
          fields: 1 + below.fields,
          depth: selection.selectionSet ? 1 + below.depth : 1,
          cost: 1 + listSize(selection, values) * below.cost,
        };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        part = sizeOf(selection.selectionSet);
      } else {
        const name = selection.name.value;
        let known = memo.get(name);
        if (!known) {
          known = sizeOf(fragments.get(name)?.selectionSet);
          memo.set(name, known);
        }
        part = known;
      }
      total.fields += part.fields;
      total.depth = Math.max(total.depth, part.depth);
      total.cost += part.cost;
    }
    return total;
  };
  // `runs(limit: $n)` costs what `$n` will be: the value sent, else its default.
  const values: Record<string, unknown> = {};
  for (const v of operation.variableDefinitions ?? []) {
    if (v.defaultValue?.kind === Kind.INT) {
      values[v.variable.name.value] = Number(v.defaultValue.value);
    }
  }
  Object.assign(values, variables);
  const size = sizeOf(operation.selectionSet);
  let aliases = 0;
  visit(document, {
    Field(node) {
      if (node.alias) aliases++;
    },
  });
  const limits = GRAPHQL_LIMITS;
  const errors: string[] = [];
  if (size.depth > limits.maxDepth) {
    errors.push(`the query selects ${size.depth} levels deep; at most ${limits.maxDepth}`);
  }
  if (aliases > limits.maxAliases) {
    errors.push(`the query has ${aliases} aliases; at most ${limits.maxAliases}`);
  }
  if (size.fields > limits.maxFields) {
    errors.push(`the query selects ${size.fields} fields; at most ${limits.maxFields}`);
  }
  if (size.cost > limits.maxCost) {
    errors.push(
      `the query's estimated cost is ${size.cost}; at most ${limits.maxCost} ` +
        "(lower runs' limit or select fewer nested fields)",
    );
  }
  return errors.map((message) =>
    new GraphQLError(message, { extensions: { code: "QUERY_TOO_COMPLEX" } })
  );
}

/** How many items `field` may return (1 for a non-list field). */
function listSize(field: FieldNode, variables: Record<string, unknown>): number {
  const name = field.name.value;
  if (name !== "runs") return LIST_SIZE[name] ?? 1;
  const arg = field.arguments?.find((a) => a.name.value === "limit")?.value;
  let limit: unknown = DEFAULT_RUNS_LIMIT;
  if (arg?.kind === Kind.INT) limit = Number(arg.value);
  else if (arg?.kind === Kind.VARIABLE) limit = variables[arg.name.value] ?? DEFAULT_RUNS_LIMIT;
  return typeof limit === "number" && limit >= 1 && limit <= MAX_RUNS_LIMIT
    ? Math.ceil(limit)
    : MAX_RUNS_LIMIT;
}
