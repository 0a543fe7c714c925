import { nodeId, type Site, userShape } from "./shapes.js";
import type { EmulatedDeployment, EmulatedDeploymentStatus } from "./types.js";

type Json = Record<string, unknown>;

const repoUrl = (site: Site) => `${site.api}/repos/${site.owner}/${site.repo}`;

export function deploymentShape(site: Site, d: EmulatedDeployment): Json {
  const url = `${repoUrl(site)}/deployments/${d.id}`;
  const updated = d.statuses.at(-1)?.created_at ?? d.created_at;
  return {
    url,
    id: d.id,
    node_id: nodeId("DE", d.id),
    sha: d.sha,
    ref: d.ref,
    task: d.task,
    payload: d.payload,
    original_environment: d.original_environment,
    environment: d.environment,
    description: d.description,
    creator: userShape(site, d.creator),
    created_at: d.created_at,
    updated_at: updated,
    statuses_url: `${url}/statuses`,
    repository_url: repoUrl(site),
    transient_environment: d.transient_environment ?? false,
    production_environment: d.production_environment,
    performed_via_github_app: null,
  };
}

export function statusShape(site: Site, d: EmulatedDeployment, s: EmulatedDeploymentStatus): Json {
  const deploymentUrl = `${repoUrl(site)}/deployments/${d.id}`;
  return {
    url: `${deploymentUrl}/statuses/${s.id}`,
    id: s.id,
    node_id: nodeId("DES", s.id),
    state: s.state,
    creator: userShape(site, d.creator),
    description: s.description ?? "",
    environment: s.environment,
    // target_url is the old name of log_url; GitHub still fills both.
    target_url: s.log_url ?? "",
    created_at: s.created_at,
    updated_at: s.created_at,
    deployment_url: deploymentUrl,
    repository_url: repoUrl(site),
    environment_url: s.environment_url ?? "",
    log_url: s.log_url ?? "",
    performed_via_github_app: null,
  };
}
