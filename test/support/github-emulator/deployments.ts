import { checkDeployable, deploymentDocs } from "./deployment-gate.js";
import { invalidRequest, type Reply, validationFailed } from "./replies.js";
import { type RepoStore, timestamp } from "./store.js";
import type { EmulatedDeployment, EmulatedDeploymentStatus } from "./types.js";

/**
 * GitHub's deployment rules, apart from HTTP: what a create or a status does to the store, or the error
 * GitHub would answer.
 */

export const statusDocs = "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status";
const statusStates = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];
const maxDescription = 140;

function optional<T>(value: unknown, check: (v: unknown) => boolean, fallback: T): T | undefined {
  if (value === undefined || value === null) return fallback;
  return check(value) ? (value as T) : undefined;
}

const isString = (v: unknown) => typeof v === "string";
const isBool = (v: unknown) => typeof v === "boolean";
const isStringArray = (v: unknown) => Array.isArray(v) && v.every(isString);

function typeError(docs: string, field: string, value: unknown, type: string): Reply {
  return invalidRequest(docs, `For 'properties/${field}', ${JSON.stringify(value)} is not ${type}.`);
}

export function createDeployment(
  store: RepoStore,
  body: Record<string, unknown>,
  actor: string,
): EmulatedDeployment | Reply {
  const { ref, environment: env, required_contexts: contexts } = body;
  if (typeof ref !== "string") return invalidRequest(deploymentDocs, '"ref" wasn\'t supplied.');
  const environment = optional<string>(env, isString, "production");
  if (environment === undefined) return typeError(deploymentDocs, "environment", env, "a string");
  if (contexts !== undefined && !isStringArray(contexts))
    return typeError(deploymentDocs, "required_contexts", contexts, "an array");
  const flags: Record<string, boolean> = {};
  const defaults = {
    auto_merge: true,
    transient_environment: false,
    production_environment: environment === "production",
  };
  for (const [field, fallback] of Object.entries(defaults)) {
    const value = optional<boolean>(body[field], isBool, fallback);
    if (value === undefined) return typeError(deploymentDocs, field, body[field], "a boolean");
    flags[field] = value;
  }
  const autoMerge = flags.auto_merge!;
  const sha = checkDeployable(store, ref, autoMerge, contexts as string[] | undefined);
  if (typeof sha !== "string") return sha;
  const deployment: EmulatedDeployment = {
    id: store.newId(),
    environment,
    original_environment: environment,
    ref,
    sha,
    task: typeof body.task === "string" ? body.task : "deploy",
    transient_environment: flags.transient_environment!,
    production_environment: flags.production_environment!,
    required_contexts: contexts as string[] | undefined,
    auto_merge: autoMerge,
    description: typeof body.description === "string" ? body.description : null,
    payload: body.payload ?? {},
    creator: actor,
    created_at: timestamp(),
    statuses: [],
  };
  store.deployments.push(deployment);
  return deployment;
}

function pushStatus(
  d: EmulatedDeployment,
  id: number,
  fields: Omit<EmulatedDeploymentStatus, "id" | "created_at" | "environment">,
) {
  const status = { id, environment: d.environment, created_at: timestamp(), ...fields };
  d.statuses.push(status);
  return status;
}

/** auto_inactive: earlier successful deployments to the same non-transient, non-production environment go inactive. */
function inactivatePrevious(store: RepoStore, current: EmulatedDeployment): void {
  for (const d of store.deployments) {
    const last = d.statuses.at(-1);
    if (d.id >= current.id || d.environment !== current.environment || last?.state !== "success") continue;
    if (d.transient_environment || d.production_environment) continue;
    pushStatus(d, store.newId(), {
      state: "inactive",
      description: "",
      environment_url: last.environment_url,
      log_url: "",
    });
  }
}

export function createStatus(
  store: RepoStore,
  d: EmulatedDeployment,
  body: Record<string, unknown>,
): EmulatedDeploymentStatus | Reply {
  const { state, description } = body;
  if (typeof state !== "string") return invalidRequest(statusDocs, '"state" wasn\'t supplied.');
  if (!statusStates.includes(state))
    return typeError(statusDocs, "state", state, `one of ${statusStates.join(", ")}`);
  if (typeof description === "string" && description.length > maxDescription) {
    const message = `description is too long (maximum is ${maxDescription} characters)`;
    return validationFailed(statusDocs, [
      { resource: "DeploymentStatus", code: "custom", field: "description", message },
    ]);
  }
  if (typeof body.environment === "string") d.environment = body.environment;
  const logUrl = body.log_url ?? body.target_url;
  const status = pushStatus(d, store.newId(), {
    state,
    description: typeof description === "string" ? description : "",
    environment_url: typeof body.environment_url === "string" ? body.environment_url : "",
    log_url: typeof logUrl === "string" ? logUrl : "",
  });
  if (state === "success" && body.auto_inactive !== false) inactivatePrevious(store, d);
  return status;
}
