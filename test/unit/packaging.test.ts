// The deployment files in packaging/: the systemd unit (systemd-analyze),
// the Kubernetes manifests and the mirror samples for containerd and CRI-O
// (parsed, cross-checked, and every Wharf configuration in them loaded
// through Wharf's own config reader).
//   npm run build && node --test --test-concurrency=1 dist/test/unit/packaging.test.js
// Not in test:quick: needs systemd-analyze and python3 (Debian packages systemd, python3).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configFromObject, loadConfig, type Config } from '../../src/config/config.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const PACKAGING = join(REPO_ROOT, 'packaging');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const PYTHON = '/usr/bin/python3';
const INSTALL_HINT = 'run `sudo bash scripts/install-test-deps.sh`';
/** The image's user (Containerfile: useradd --uid 10001). */
const IMAGE_UID = 10001;

function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} not found (Debian package ${pkg}): ${INSTALL_HINT}`);
}

/** TOML through Python's standard tomllib (3.11+), as JSON. */
function parseToml(file: string): any {
  requireTool(PYTHON, 'python3');
  const r = spawnSync(PYTHON, ['-c', 'import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))', file], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${file} is not valid TOML: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// ---------------------------------------------------------------------------
// systemd

describe('systemd unit (packaging/systemd/wharf.service)', () => {
  const unitPath = join(PACKAGING, 'systemd', 'wharf.service');
  const unit = readFileSync(unitPath, 'utf8');
  const settings = (key: string) =>
    unit
      .split('\n')
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));

  /**
   * The unit as systemd-analyze sees it, with ExecStart's bare `wharf` (which
   * systemd looks up in /usr/local/bin, /usr/bin, ...) pointed at this
   * checkout's launcher: the test must not install into the machine's PATH.
   */
  function unitForVerify(dir: string): string {
    const [exec] = settings('ExecStart');
    assert.match(exec!, /^wharf serve --config \/etc\/wharf\/config\.yml$/);
    const file = join(dir, 'wharf.service');
    writeFileSync(file, unit.replace(/^ExecStart=wharf /m, `ExecStart=${join(REPO_ROOT, 'bin', 'wharf.js')} `));
    return file;
  }

  it('systemd-analyze verify passes with no warnings', () => {
    requireTool(SYSTEMD_ANALYZE, 'systemd');
    const dir = mkdtempSync(join(tmpdir(), 'wharf-unit-'));
    try {
      const r = spawnSync(SYSTEMD_ANALYZE, ['verify', unitForVerify(dir)], { encoding: 'utf8' });
      // verify exits 0 on settings it ignores: any output is a defect too.
      assert.equal(r.status, 0, r.stderr);
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'systemd-analyze verify printed warnings');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('systemd-analyze security rates the sandbox "OK" (exposure at most 2.0 of 10)', () => {
    requireTool(SYSTEMD_ANALYZE, 'systemd');
    const dir = mkdtempSync(join(tmpdir(), 'wharf-unit-'));
    try {
      const r = spawnSync(SYSTEMD_ANALYZE, ['security', '--offline=true', '--threshold=20', '--no-pager', unitForVerify(dir)], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      const level = /Overall exposure level for wharf\.service: ([\d.]+)/.exec(r.stdout);
      assert.ok(level && Number(level[1]) <= 2.0, r.stdout.split('\n').slice(-3).join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has the settings the issue asks for: type, a dynamic user, state directory, sandboxing, restart, SIGHUP reload', () => {
    assert.ok(['simple', 'notify', 'exec'].includes(settings('Type')[0]!), `Type=${settings('Type')[0]}`);
    assert.deepEqual(settings('DynamicUser'), ['yes']);
    assert.deepEqual(settings('StateDirectory'), ['wharf']);
    assert.deepEqual(settings('ProtectSystem'), ['strict']);
    assert.deepEqual(settings('NoNewPrivileges'), ['yes']);
    assert.deepEqual(settings('Restart'), ['on-failure']);
    assert.deepEqual(settings('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(settings('KillSignal'), ['SIGTERM']);
  });

  it('the sample config loads and stores under the StateDirectory', () => {
    const config = loadConfig(join(PACKAGING, 'systemd', 'config.yml'), {});
    assert.deepEqual(config.storage, { ...config.storage, driver: 'filesystem', root: '/var/lib/wharf' });
    assert.equal(settings('WorkingDirectory')[0], '/var/lib/wharf');
  });
});

// ---------------------------------------------------------------------------
// Kubernetes

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [k: string]: any;
}

function manifests(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(join(PACKAGING, 'kubernetes', file), 'utf8'));
  return docs.map((d, i) => {
    assert.deepEqual(d.errors, [], `${file} document ${i}: YAML errors`);
    const o = d.toJS() as K8sObject;
    assert.ok(o && typeof o.apiVersion === 'string' && typeof o.kind === 'string', `${file} document ${i}: no apiVersion/kind`);
    assert.match(o.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${file} ${o.kind}: metadata.name`);
    return o;
  });
}

const API_VERSIONS: Record<string, string> = {
  Deployment: 'apps/v1',
  Service: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  PersistentVolumeClaim: 'v1',
  PodDisruptionBudget: 'policy/v1',
};

function one(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/**
 * Checks one manifest file as a whole and returns Wharf's config as a pod of
 * its Deployment would load it: the ConfigMap's config.yml at WHARF_CONFIG,
 * with the pod's environment (env + the Secret's keys via envFrom).
 */
function checkDeployment(file: string): { objs: K8sObject[]; deployment: K8sObject; config: Config; env: Record<string, string> } {
  const objs = manifests(file);
  for (const o of objs) assert.equal(o.apiVersion, API_VERSIONS[o.kind], `${file}: ${o.kind} apiVersion`);
  const deployment = one(objs, 'Deployment');
  const spec = deployment.spec;
  const pod = spec.template.spec;
  assert.ok(matches(spec.selector.matchLabels, spec.template.metadata.labels), `${file}: selector does not match the pod labels`);

  const [container, ...others] = pod.containers;
  assert.equal(others.length, 0);
  assert.deepEqual(container.args ?? ['serve'], ['serve']);

  // Pod security: the image's non-root user.
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, IMAGE_UID);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);

  // Resources and probes.
  assert.ok(container.resources?.requests?.cpu && container.resources?.requests?.memory, `${file}: resource requests`);
  const http = (container.ports as any[]).find((p) => p.name === 'http');
  assert.ok(http, `${file}: no port named http`);
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  for (const probe of [container.livenessProbe, container.readinessProbe]) {
    assert.ok(probe.httpGet.port === 'http' || probe.httpGet.port === http.containerPort, `${file}: probe port`);
  }

  // Every mount names a volume, every volume names an object in this file.
  const volumes = new Map<string, any>((pod.volumes as any[]).map((v) => [v.name, v]));
  for (const m of container.volumeMounts) assert.ok(volumes.has(m.name), `${file}: mount ${m.name} has no volume`);
  for (const v of volumes.values()) {
    if (v.configMap) one(objs, 'ConfigMap', v.configMap.name);
    if (v.secret) one(objs, 'Secret', v.secret.secretName);
    if (v.persistentVolumeClaim) one(objs, 'PersistentVolumeClaim', v.persistentVolumeClaim.claimName);
  }

  // The environment a pod gets: env values plus the Secret's keys.
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) env[e.name] = e.value;
  for (const from of container.envFrom ?? []) {
    const secret = one(objs, 'Secret', from.secretRef.name);
    Object.assign(env, secret.stringData);
  }

  // The config file: WHARF_CONFIG names a file of a mounted ConfigMap.
  const configPath = env.WHARF_CONFIG ?? '/etc/wharf/config.yml';
  const mount = (container.volumeMounts as any[]).find((m) => configPath.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `${file}: nothing mounted at ${configPath}`);
  const configMap = one(objs, 'ConfigMap', volumes.get(mount.name).configMap.name);
  const text = configMap.data[configPath.slice(mount.mountPath.length + 1)];
  assert.equal(typeof text, 'string', `${file}: the ConfigMap has no ${configPath}`);
  const config = configFromObject(parseYaml(text), env);

  // Wharf listens where the pod's port and the probes point.
  assert.equal(config.port, http.containerPort);
  assert.equal(config.address, '0.0.0.0');
  assert.equal(config.tlsCert, undefined, 'probes are plain HTTP');

  // The Service reaches the pods on that port.
  const service = one(objs, 'Service');
  assert.ok(matches(service.spec.selector, spec.template.metadata.labels), `${file}: the Service selects no pod`);
  for (const p of service.spec.ports) assert.ok(p.targetPort === 'http' || p.targetPort === http.containerPort);
  return { objs, deployment, config, env };
}

describe('Kubernetes manifests (packaging/kubernetes/)', () => {
  it('single-pvc.yaml: one replica, filesystem storage on the PersistentVolumeClaim', () => {
    const { objs, deployment, config } = checkDeployment('single-pvc.yaml');
    assert.equal(deployment.spec.replicas, 1);
    // A ReadWriteOnce volume cannot be shared by an old and a new pod.
    assert.equal(deployment.spec.strategy.type, 'Recreate');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(config.storage.driver, 'filesystem');
    const root = (config.storage as { root: string }).root;
    const mount = (container.volumeMounts as any[]).find((m) => m.mountPath === root);
    assert.ok(mount, `nothing mounted at the storage root ${root}`);
    const volume = (pod.volumes as any[]).find((v) => v.name === mount.name);
    const pvc = one(objs, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName);
    assert.deepEqual(pvc.spec.accessModes, ['ReadWriteOnce']);
    assert.equal(pod.securityContext.fsGroup, IMAGE_UID, 'the volume must be writable by the image user');
  });

  it('s3-replicas.yaml: three replicas on S3, credentials and token secret from the Secret, a PodDisruptionBudget', () => {
    const { objs, deployment, config, env } = checkDeployment('s3-replicas.yaml');
    assert.equal(deployment.spec.replicas, 3);
    assert.equal(config.storage.driver, 's3');
    const s3 = config.storage as { accessKey?: string; secretKey?: string; bucket: string };
    const secret = one(objs, 'Secret').stringData;
    assert.equal(s3.accessKey, secret.S3_ACCESS_KEY);
    assert.equal(s3.secretKey, secret.S3_SECRET_KEY);
    // Tokens one replica issues are verified by the others: one secret for all.
    assert.equal(config.secret, env.WHARF_SECRET);
    assert.ok(config.publicUrl, 'public-url: the token realm behind the Service/Ingress');
    // Stateless replicas: nothing but the store and the config is shared — no volume holds state.
    const pod = deployment.spec.template.spec;
    for (const v of pod.volumes) assert.ok(v.configMap || v.emptyDir, `replicas must not share volume ${v.name}`);
    const pdb = one(objs, 'PodDisruptionBudget');
    assert.ok(matches(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels));
    assert.ok(pdb.spec.minAvailable < deployment.spec.replicas);
  });

  it('the config reader rejects the S3 ConfigMap without the Secret (the check has teeth)', () => {
    const objs = manifests('s3-replicas.yaml');
    const text = one(objs, 'ConfigMap').data['config.yml'];
    assert.throws(() => configFromObject(parseYaml(text), {}), /environment variable \w+ is not set/);
  });
});

// ---------------------------------------------------------------------------
// Mirrors

describe('mirror samples (packaging/mirrors/)', () => {
  const wharf = loadConfig(join(PACKAGING, 'mirrors', 'config.yml'), {});
  const mirrorNames = Object.keys(wharf.namespaces.mirrors ?? {});

  it('config.yml loads and names mirror namespaces', () => {
    assert.deepEqual(mirrorNames.sort(), ['docker.io', 'quay.io']);
  });

  it('containerd hosts.toml: the directory is a mirror namespace of the config, Wharf may pull and resolve', () => {
    const file = join(PACKAGING, 'mirrors', 'containerd', 'certs.d', 'docker.io', 'hosts.toml');
    const toml = parseToml(file);
    // containerd reads certs.d/<registry>/hosts.toml and sends ?ns=<registry> to the mirror.
    assert.ok(mirrorNames.includes('docker.io'));
    assert.equal(new URL(toml.server).origin, wharf.namespaces.mirrors!['docker.io']!.upstream);
    const hosts = Object.entries(toml.host as Record<string, any>);
    assert.equal(hosts.length, 1);
    const [url, host] = hosts[0]!;
    const u = new URL(url);
    assert.ok(u.protocol === 'https:' || u.protocol === 'http:');
    assert.equal(u.pathname, '/', 'the namespace comes from ?ns=, not a path');
    assert.equal(u.port, String(wharf.port));
    assert.deepEqual([...host.capabilities].sort(), ['pull', 'resolve'], 'a mirror must not be pushed to');
  });

  it('CRI-O registries.conf: each mirror location is Wharf plus a mirror namespace as path prefix', () => {
    const file = join(PACKAGING, 'mirrors', 'cri-o', 'registries.conf.d', 'wharf-mirror.conf');
    const toml = parseToml(file);
    const registries = toml.registry as any[];
    assert.deepEqual(registries.map((r) => r.prefix).sort(), [...mirrorNames].sort());
    for (const r of registries) {
      assert.equal(r.mirror.length, 1, `${r.prefix}: one mirror`);
      const location = r.mirror[0].location as string;
      const [hostPort, ...path] = location.split('/');
      assert.equal(hostPort!.split(':')[1], String(wharf.port), `${location}: Wharf's port`);
      // Wharf reads the first path component as the mirror namespace (README, "Mirrors").
      assert.deepEqual(path, [r.prefix], `${location}: the path must be the mirror namespace ${r.prefix}`);
    }
  });
});
