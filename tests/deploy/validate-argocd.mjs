// Validates every manifest in the given directory (default: argocd/) against Argo CD's schemas
// (@kubernetes-models/argo-cd, generated from Argo CD's CRDs), and every Application an
// ApplicationSet's list generator makes: its template filled from each element, the
// templatePatch applied, the values file it names present in the chart. Prints one line per
// object; exits 1 on the first directory with a problem, naming the file, the object and the
// field.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments, parse } from "yaml";
import { AppProject, Application, ApplicationSet } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1";

const models = { AppProject, Application, ApplicationSet };
const directory = resolve(process.argv[2] ?? "../../argocd");
const chart = resolve(directory, "../charts/s4e");
const problems = [];

function check(what, document) {
  const Model = models[document?.kind];
  if (!Model) {
    problems.push(`${what}: kind ${document?.kind} is not an Argo CD kind this check knows`);
    return;
  }
  try {
    new Model(document).validate();
    console.log(`ok ${what}`);
  } catch (error) {
    const details = (error.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
    problems.push(`${what}: ${details.join("; ") || error.message}`);
  }
}

// Go template substitution as the list generator does it, for the `{{ .field }}` form only.
function fill(text, element) {
  return text.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, field) => {
    if (!(field in element)) throw new Error(`the template names .${field}, which the element lacks`);
    return String(element[field]);
  });
}

function merge(target, patch) {
  for (const [key, value] of Object.entries(patch)) {
    if (value && typeof value === "object" && !Array.isArray(value) && target[key] && typeof target[key] === "object") {
      merge(target[key], value);
    } else {
      target[key] = value;
    }
  }
  return target;
}

function generatedApplications(file, set) {
  for (const generator of set.spec.generators ?? []) {
    for (const element of generator.list?.elements ?? []) {
      const what = `${file}: ${set.metadata.name} for ${JSON.stringify(element)}`;
      try {
        const template = JSON.parse(fill(JSON.stringify(set.spec.template), element));
        if (set.spec.templatePatch) merge(template, parse(fill(set.spec.templatePatch, element)));
        const application = { apiVersion: "argoproj.io/v1alpha1", kind: "Application", ...template };
        check(`${what} → Application ${application.metadata.name}`, application);
        for (const valuesFile of application.spec.source?.helm?.valueFiles ?? []) {
          if (!existsSync(join(chart, valuesFile))) problems.push(`${what}: charts/s4e/${valuesFile} does not exist`);
        }
      } catch (error) {
        problems.push(`${what}: ${error.message}`);
      }
    }
  }
}

for (const file of readdirSync(directory).filter((name) => /\.ya?ml$/.test(name)).sort()) {
  for (const document of parseAllDocuments(readFileSync(join(directory, file), "utf8"))) {
    if (document.errors.length) {
      problems.push(`${file}: ${document.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const object = document.toJS();
    if (!object) continue;
    check(`${file}: ${object.kind} ${object.metadata?.name}`, object);
    if (object.kind === "ApplicationSet") generatedApplications(file, object);
  }
}

if (problems.length) {
  for (const problem of problems) console.error(`invalid ${problem}`);
  process.exit(1);
}
