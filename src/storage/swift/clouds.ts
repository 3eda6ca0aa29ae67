// A named cloud from OpenStack's clouds.yaml (and secure.yaml), looked for
// where openstacksdk looks, as SwiftConfig fields: `cloud: name` in the
// driver's config fills in what the config leaves out.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { SwiftConfig } from './config.js';

/** Where clouds.yaml is looked for (openstacksdk's order), first hit wins. */
export function cloudsYamlPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths: string[] = [];
  if (env.OS_CLIENT_CONFIG_FILE) paths.push(resolve(env.OS_CLIENT_CONFIG_FILE));
  paths.push(resolve('clouds.yaml'), join(homedir(), '.config', 'openstack', 'clouds.yaml'), '/etc/openstack/clouds.yaml');
  return paths;
}

function secureYamlPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths: string[] = [];
  if (env.OS_CLIENT_SECURE_FILE) paths.push(resolve(env.OS_CLIENT_SECURE_FILE));
  paths.push(resolve('secure.yaml'), join(homedir(), '.config', 'openstack', 'secure.yaml'), '/etc/openstack/secure.yaml');
  return paths;
}

function readFirst(paths: string[]): { path: string; data: Record<string, unknown> } | undefined {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const data = parseYaml(text) as unknown;
    return { path, data: data && typeof data === 'object' ? (data as Record<string, unknown>) : {} };
  }
  return undefined;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      prev && v && typeof prev === 'object' && typeof v === 'object' && !Array.isArray(v)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Settings of cloud `name` from clouds.yaml (+ secure.yaml), as SwiftConfig fields. */
export function loadCloud(name: string, env: NodeJS.ProcessEnv = process.env): Partial<SwiftConfig> {
  const found = readFirst(cloudsYamlPaths(env));
  if (!found) throw new TypeError(`swift: cloud "${name}" requested but no clouds.yaml found in ${cloudsYamlPaths(env).join(', ')}`);
  const clouds = (found.data.clouds ?? {}) as Record<string, Record<string, unknown>>;
  let cloud = clouds[name];
  if (!cloud) throw new TypeError(`swift: no cloud "${name}" in ${found.path}`);
  const secure = readFirst(secureYamlPaths(env));
  const secureCloud = (secure?.data.clouds as Record<string, Record<string, unknown>> | undefined)?.[name];
  if (secureCloud) cloud = deepMerge(cloud, secureCloud);
  const auth = (cloud.auth ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const authType = str(cloud.auth_type) ?? '';
  const out: Partial<SwiftConfig> = {
    authUrl: str(auth.auth_url),
    username: str(auth.username),
    password: str(auth.password),
    projectName: str(auth.project_name ?? auth.tenant_name),
    projectId: str(auth.project_id ?? auth.tenant_id),
    projectDomainName: str(auth.project_domain_name ?? auth.domain_name),
    projectDomainId: str(auth.project_domain_id ?? auth.domain_id),
    userDomainName: str(auth.user_domain_name ?? auth.domain_name),
    userDomainId: str(auth.user_domain_id ?? auth.domain_id),
    region: str(cloud.region_name),
    interface: str(cloud.interface),
  };
  if (authType === 'v1password' || authType === 'v1') out.authVersion = 1;
  else if (authType === 'password' || authType === 'v3password' || str(cloud.identity_api_version) === '3') out.authVersion = 3;
  const osu = (cloud.object_store_endpoint_override ?? cloud.object_store_endpoint) as unknown;
  if (typeof osu === 'string') out.storageUrl = osu;
  return out;
}

/** `config` with its cloud's settings filled in where it sets nothing. */
export function withCloud(config: SwiftConfig): SwiftConfig {
  if (!config.cloud) return { ...config };
  const fromCloud = loadCloud(config.cloud);
  const merged: Record<string, unknown> = { ...fromCloud };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) merged[k] = v;
  return merged as unknown as SwiftConfig;
}
