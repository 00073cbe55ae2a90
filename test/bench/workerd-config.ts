/**
 * A Worker on bare `workerd serve`, without wrangler's proxy or trace collector: the bundle
 * is what `wrangler deploy --dry-run` would upload, and the capnp config is generated from the
 * same wrangler.jsonc (Durable Object namespaces, SQLite from the migrations, vars), the way
 * miniflare writes its own, minus everything local development adds.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import * as v from "valibot";
import { unstable_readConfig } from "wrangler";

/** Bundles the Worker of `configPath` into `dir` and returns the name of its main module. */
async function bundle(root: string, configPath: string, dir: string): Promise<string> {
  await promisify(execFile)(
    join(root, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--outdir", dir, "-c", configPath],
    { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" } },
  );
  const modules = readdirSync(dir).filter((f) => f.endsWith(".js"));
  const [main, ...others] = modules;
  // One module is all esbuild makes for these Workers; anything more would need listing below.
  if (main === undefined || others.length > 0)
    throw new Error(`expected one module in ${dir}, got ${modules.join(", ")}`);
  return main;
}

/**
 * The fields of a wrangler config read here. wrangler's own `Config` type comes from a package
 * it bundles instead of shipping, so its `readConfig` is untyped: the result is checked instead.
 */
const WorkerConfig = v.object({
  name: v.string(),
  compatibility_date: v.string(),
  compatibility_flags: v.array(v.string()),
  vars: v.record(v.string(), v.unknown()),
  durable_objects: v.object({ bindings: v.array(v.object({ name: v.string(), class_name: v.string() })) }),
  migrations: v.array(v.object({ new_sqlite_classes: v.optional(v.array(v.string())) })),
});

/** The fields read from a caller Worker's config: its service bindings to the main Worker. */
const CallerConfig = v.object({
  compatibility_date: v.string(),
  compatibility_flags: v.array(v.string()),
  services: v.optional(
    v.array(v.object({ binding: v.string(), service: v.string(), entrypoint: v.optional(v.string()) })),
  ),
});

/** A second Worker in the same process, on its own port, with service bindings to the main one. */
export interface CallerWorker {
  configPath: string;
  port: number;
}

/** A capnp string literal (same escapes as JSON for the ASCII text used here). */
const text = (value: string) => JSON.stringify(value);

/**
 * Writes `dir/config.capnp` for the Worker of `configPath`, listening on 127.0.0.1:`port`, with
 * Durable Object storage in `dir/do`. `vars` are added to (and override) the config's vars.
 * With `caller`, that Worker runs in the same process on `caller.port`; each of its service
 * bindings must name the main Worker (its `name`), optionally an entrypoint of it.
 */
export async function writeWorkerdConfig(
  root: string,
  configPath: string,
  dir: string,
  port: number,
  vars: Record<string, string>,
  caller?: CallerWorker,
): Promise<string> {
  const config = v.parse(WorkerConfig, unstable_readConfig({ config: configPath }));
  const main = await bundle(root, configPath, dir);
  const sqlite = new Set(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []));
  const objects = config.durable_objects.bindings;
  const allVars = { ...config.vars, ...vars };
  const bindings = [
    ...objects.map((o) => `(name = ${text(o.name)}, durableObjectNamespace = ${text(o.class_name)})`),
    // A string var is a text binding; anything else is JSON, as wrangler binds it.
    ...Object.entries(allVars).map(([name, value]) =>
      typeof value === "string"
        ? `(name = ${text(name)}, text = ${text(value)})`
        : `(name = ${text(name)}, json = ${text(JSON.stringify(value))})`,
    ),
  ];
  let callerService = "";
  let callerSocket = "";
  let callerWorker = "";
  if (caller !== undefined) {
    const callerConfig = v.parse(CallerConfig, unstable_readConfig({ config: caller.configPath }));
    const callerMain = `caller/${await bundle(root, caller.configPath, join(dir, "caller"))}`;
    const services = (callerConfig.services ?? []).map((s) => {
      if (s.service !== config.name)
        throw new Error(`${caller.configPath}: binding ${s.binding} is not to ${config.name}`);
      const entrypoint = s.entrypoint === undefined ? "" : `, entrypoint = ${text(s.entrypoint)}`;
      return `(name = ${text(s.binding)}, service = (name = "main"${entrypoint}))`;
    });
    callerService = `\n    (name = "caller", worker = .caller),`;
    callerSocket = `,\n    (name = "caller-http", address = ${text(`127.0.0.1:${caller.port}`)}, http = (), service = "caller")`;
    callerWorker = `
const caller :Workerd.Worker = (
  modules = [(name = ${text(callerMain)}, esModule = embed ${text(callerMain)})],
  compatibilityDate = ${text(callerConfig.compatibility_date)},
  compatibilityFlags = [${callerConfig.compatibility_flags.map(text).join(", ")}],
  bindings = [
    ${services.join(",\n    ")}
  ],
);
`;
  }
  const namespaces = objects.map(
    (o) =>
      `(className = ${text(o.class_name)}, uniqueKey = ${text(`${config.name}-${o.class_name}`)}, enableSql = ${sqlite.has(o.class_name)})`,
  );
  const capnp = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),${callerService}
    (name = "do-storage", disk = (path = ${text(join(dir, "do"))}, writable = true)),
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (), service = "main")${callerSocket}],
);

const worker :Workerd.Worker = (
  modules = [(name = ${text(main)}, esModule = embed ${text(main)})],
  compatibilityDate = ${text(config.compatibility_date)},
  compatibilityFlags = [${config.compatibility_flags.map(text).join(", ")}],
  bindings = [
    ${bindings.join(",\n    ")}
  ],
  durableObjectNamespaces = [
    ${namespaces.join(",\n    ")}
  ],
  durableObjectStorage = (localDisk = "do-storage"),
);
${callerWorker}`;
  mkdirSync(join(dir, "do"), { recursive: true });
  const path = join(dir, "config.capnp");
  writeFileSync(path, capnp);
  return path;
}
