// Test fixture: renders each kustomization given (what `kubectl kustomize DIR` does, for the features deploy/k8s uses)
// and validates every object against the Kubernetes API's schemas (npm's kubernetes-models). Prints one JSON line
// per kustomization: {"dir": …, "objects": [the rendered objects]}; exits 1 naming each object that is invalid.
//   node deploy/test/k8s/validate.mjs deploy/k8s/base deploy/k8s/overlays/production
// Features rendered: resources (files and directories), namespace, labels (pairs), replicas, images,
// configMapGenerator (files), patches (JSON 6902, with a target by kind and name). Anything else is refused.
import { readFileSync, statSync } from "node:fs";
import { join, basename } from "node:path";
import { parseAllDocuments } from "yaml";

const known = new Set(["apiVersion", "kind", "resources", "namespace", "labels", "replicas", "images", "configMapGenerator", "patches"]);

function render(dir) {
  const k = readYaml(join(dir, "kustomization.yaml"))[0];
  for (const key of Object.keys(k)) {
    if (!known.has(key)) throw new Error(`${dir}: kustomization field '${key}' is not rendered by this script`);
  }
  let objects = [];
  for (const r of k.resources ?? []) {
    const path = join(dir, r);
    objects.push(...(statSync(path).isDirectory() ? render(path) : readYaml(path)));
  }
  for (const g of k.configMapGenerator ?? []) {
    const data = {};
    for (const f of g.files ?? []) data[basename(f)] = readFileSync(join(dir, f), "utf8");
    objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: g.name }, data });
  }
  for (const p of k.patches ?? []) {
    if (!p.target || !p.patch) throw new Error(`${dir}: only JSON 6902 patches with a target are rendered`);
    const targets = objects.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
    if (targets.length === 0) throw new Error(`${dir}: patch target ${p.target.kind}/${p.target.name} not found`);
    for (const o of targets) for (const op of readYamlText(p.patch)[0]) applyOp(o, op, dir);
  }
  for (const r of k.replicas ?? []) {
    const targets = objects.filter((o) => o.kind === "Deployment" && o.metadata.name === r.name);
    if (targets.length === 0) throw new Error(`${dir}: replicas for unknown Deployment ${r.name}`);
    for (const o of targets) o.spec.replicas = r.count;
  }
  for (const image of k.images ?? []) {
    for (const c of containers(objects)) {
      const [name, tag] = c.image.split(":");
      if (name === image.name) c.image = `${image.newName ?? name}:${image.newTag ?? tag ?? "latest"}`;
    }
  }
  for (const l of k.labels ?? []) {
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  }
  if (k.namespace) for (const o of objects) o.metadata.namespace = k.namespace;
  return objects;
}

function containers(objects) {
  return objects.filter((o) => o.kind === "Deployment").flatMap((o) => o.spec.template.spec.containers);
}

function applyOp(object, op, dir) {
  const parts = op.path.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  const last = parts.pop();
  let parent = object;
  for (const p of parts) {
    parent = parent?.[p];
    if (parent === undefined) throw new Error(`${dir}: patch path ${op.path} does not exist`);
  }
  if (op.op === "replace" && !(last in parent)) throw new Error(`${dir}: patch replaces missing ${op.path}`);
  if (op.op === "add" || op.op === "replace") parent[last] = op.value;
  else if (op.op === "remove") delete parent[last];
  else throw new Error(`${dir}: patch op '${op.op}' is not rendered`);
}

function readYaml(path) {
  return readYamlText(readFileSync(path, "utf8"), path);
}

function readYamlText(text, where = "patch") {
  const docs = parseAllDocuments(text);
  for (const d of docs) if (d.errors.length) throw new Error(`${where}: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS()).filter((d) => d !== null);
}

// kubernetes-models lays its classes out by group and version: "apps/v1" -> kubernetes-models/apps/v1,
// "v1" -> kubernetes-models/v1, "policy/v1" -> kubernetes-models/policy/v1.
async function validate(object) {
  const module = await import(`kubernetes-models/${object.apiVersion}`);
  const Model = module[object.kind];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

let failed = false;
for (const dir of process.argv.slice(2)) {
  let objects;
  try {
    objects = render(dir);
  } catch (e) {
    console.error(`${dir}: ${e.message}`);
    failed = true;
    continue;
  }
  for (const o of objects) {
    try {
      await validate(o);
    } catch (e) {
      failed = true;
      console.error(`${dir}: ${o.kind}/${o.metadata?.name}: ${e.message}`);
    }
  }
  console.log(JSON.stringify({ dir, objects }));
}
process.exit(failed ? 1 : 0);
