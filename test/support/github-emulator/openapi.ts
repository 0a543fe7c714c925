import { createRequire } from "node:module";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

/**
 * Every request the emulator answers is first checked against GitHub's own description of api.github.com
 * (@octokit/openapi, dereferenced): the operation must exist for the method and path, and its path and query
 * parameters and JSON body must validate against the operation's schemas. A request GitHub would refuse is
 * a test failure, not something the emulator quietly answers.
 */

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Schema;
}
type Schema = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
}
interface Description {
  paths: Record<string, Record<string, Operation>>;
}

interface CompiledPath {
  template: string;
  regex: RegExp;
  names: string[];
  operations: Record<string, Operation>;
}

// Tests run from the repository root; node's own require reads the 73 MB JSON far faster than a transform.
const require = createRequire(join(process.cwd(), "package.json"));
// ajv-formats is CommonJS with a default export: ESM sees either the function or the module object.
const addFormats = ((addFormatsModule as { default?: unknown }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv,
) => Ajv;

let paths: CompiledPath[] | undefined;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateFormats: true }));
const compiled = new Map<unknown, ValidateFunction>();

function loadPaths(): CompiledPath[] {
  if (paths) return paths;
  const description = require("@octokit/openapi/generated/api.github.com.deref.json") as Description;
  paths = Object.entries(description.paths).map(([template, operations]) => {
    const names: string[] = [];
    const source = template
      .split(/(\{[^}]+\})/)
      .map((part) => {
        const m = /^\{(.+)\}$/.exec(part);
        if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
        names.push(m[1]!);
        return "([^/]+)";
      })
      .join("");
    return { template, regex: new RegExp(`^${source}$`), names, operations };
  });
  // Literal segments beat parameters (/issues/comments/{id} before /issues/{issue_number}/comments).
  paths.sort((a, b) => a.names.length - b.names.length);
  return paths;
}

function validator(schema: Schema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

/** A parameter's text as the type its schema names (query strings and paths carry text only). */
function coerce(raw: string, schema: Schema | undefined): unknown {
  const type = schema?.type;
  if (type === "integer" || type === "number")
    return raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  if (type === "boolean") return raw === "true" ? true : raw === "false" ? false : raw;
  if (type === "array") return raw.split(",");
  return raw;
}

function schemaErrors(fn: ValidateFunction, where: string): string[] {
  return (fn.errors ?? []).map(
    (e) =>
      `${where}${e.instancePath || ""} ${e.message ?? "is invalid"}${e.params && "allowedValues" in e.params ? ` (${(e.params.allowedValues as unknown[]).join(", ")})` : ""}`,
  );
}

export interface OpenApiCheck {
  /** e.g. `issues/update-comment`, when the method and path name an operation. */
  readonly operation?: string;
  readonly errors: string[];
}

/**
 * Checks a reply the emulator gives against the operation's documented response schema for that status:
 * stand-in tests use it to show a shape is GitHub's. Empty means it validates.
 */
export function responseErrors(method: string, pathname: string, status: number, body: unknown): string[] {
  const path = loadPaths().find((p) => p.regex.test(pathname) && p.operations[method.toLowerCase()]);
  const op = path?.operations[method.toLowerCase()];
  if (!op) return [`no operation in GitHub's REST API answers ${method.toUpperCase()} ${pathname}`];
  const schema = op.responses?.[String(status)]?.content?.["application/json"]?.schema;
  if (!schema) return [`${op.operationId} documents no JSON response for ${status}`];
  const fn = validator(schema);
  return fn(body) ? [] : schemaErrors(fn, `${op.operationId} ${status}`);
}

/** Checks one request against the description; `errors` empty means GitHub would accept its shape. */
export function checkRequest(
  method: string,
  pathname: string,
  query: URLSearchParams,
  body: unknown,
): OpenApiCheck {
  const verb = method.toLowerCase();
  for (const path of loadPaths()) {
    const m = path.regex.exec(pathname);
    const op = m ? path.operations[verb] : undefined;
    if (!m || !op) continue;
    const errors: string[] = [];
    const params = op.parameters ?? [];
    path.names.forEach((name, i) => {
      const param = params.find((p) => p.in === "path" && p.name === name);
      const value = coerce(decodeURIComponent(m[i + 1]!), param?.schema);
      if (param?.schema && !validator(param.schema)(value))
        errors.push(...schemaErrors(validator(param.schema), `path parameter ${name}`));
    });
    for (const key of new Set(query.keys())) {
      const param = params.find((p) => p.in === "query" && p.name === key);
      if (!param) {
        errors.push(`query parameter ${key} is not a parameter of ${op.operationId}`);
        continue;
      }
      const value = coerce(query.get(key)!, param.schema);
      if (param.schema && !validator(param.schema)(value))
        errors.push(...schemaErrors(validator(param.schema), `query parameter ${key}`));
    }
    for (const p of params)
      if (p.in === "query" && p.required && !query.has(p.name))
        errors.push(`query parameter ${p.name} is required`);
    errors.push(...bodyErrors(op, body));
    return { operation: op.operationId, errors };
  }
  return { errors: [`no operation in GitHub's REST API answers ${method.toUpperCase()} ${pathname}`] };
}

function bodyErrors(op: Operation, body: unknown): string[] {
  const schema = op.requestBody?.content?.["application/json"]?.schema;
  if (body === undefined) return op.requestBody?.required ? ["the request body is required"] : [];
  if (!schema) return [`${op.operationId} takes no JSON body`];
  const fn = validator(schema);
  return fn(body) ? [] : schemaErrors(fn, "body");
}
