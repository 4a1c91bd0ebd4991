/**
 * prefrl as a dependency of someone else's project: the tarball `npm pack` makes is unpacked into
 * <project>/node_modules/prefrl, the way npm installs it, with the package's runtime dependencies
 * beside it (symlinks to this repository's node_modules; its devDependencies are left out, so the
 * package's own code cannot reach them). Then the project uses it as a user would: the `prefrl`
 * bin from the project folder, a task module of its own that imports 'prefrl', the viewer served
 * from the package, and a script and its type check against the package's exports. What fails
 * here and not in the repository is a file missing from the tarball, a path resolved against the
 * repository instead of the package, or a devDependency needed at run time.
 *
 * Needs the compiled package (`npm run build`; `npm test` builds first). About 20 s.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeEnv, randomPolicy, rollout, Rng } from '../index.js';
import { renderToolsAvailable } from '../viewer/render.js';

const REPO = join(import.meta.dirname, '..');
const PJ = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
};

let root = '';
let project = '';
let pkg = '';
let bin = '';
let packedFiles: string[] = [];

/** The environment of the commands: no viewer token from the caller's shell (serve would then ask the test's fetches for it). */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.PREFRL_VIEWER_TOKEN;
  return env;
}

/** `prefrl <args>` from the project folder, through the packed bin. */
function prefrl(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: project, encoding: 'utf8', timeout: 120_000, env: childEnv() });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The JSON object a `--json` command printed as its last line. */
function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trimEnd().split('\n').pop() ?? '') as T;
}

/** Every file under `dir` whose name ends with `ext`. */
function filesUnder(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, ext));
    else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist', 'scripts', 'cli.js')) || !existsSync(join(REPO, 'dist', 'viewer-web', 'app.js'))) {
    throw new Error('test/pack_install.test.ts needs the compiled package: run `npm run build` first');
  }
  // In the test run's TMPDIR (test/helpers/run_tmpdir.ts), removed when the run ends.
  root = mkdtempSync(join(tmpdir(), 'prefrl-pack-'));
  // --ignore-scripts: packing runs `prepare` (the build) otherwise; the build is already there.
  const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: REPO, encoding: 'utf8' });
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  const info = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0];
  packedFiles = info.files.map((f) => f.path);
  const tarball = join(root, info.filename);
  project = join(root, 'project');
  const modules = join(project, 'node_modules');
  mkdirSync(modules, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-prefrl', version: '1.0.0', type: 'module', dependencies: { prefrl: `file:${tarball}` } }));
  const untar = spawnSync('tar', ['xzf', tarball, '-C', modules], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`tar xzf ${tarball} failed: ${untar.stderr}`);
  pkg = join(modules, 'prefrl');
  renameSync(join(modules, 'package'), pkg);
  bin = join(pkg, 'bin', 'prefrl.js');
  // The dependencies beside it, as npm's flat layout puts them; devDependencies are not installed for a user.
  const dev = new Set(Object.keys(PJ.devDependencies));
  const repoModules = join(REPO, 'node_modules');
  for (const name of readdirSync(repoModules)) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      mkdirSync(join(modules, name));
      for (const sub of readdirSync(join(repoModules, name))) {
        if (!dev.has(`${name}/${sub}`)) symlinkSync(join(repoModules, name, sub), join(modules, name, sub));
      }
    } else if (!dev.has(name)) {
      symlinkSync(join(repoModules, name), join(modules, name));
    }
  }
  // The project's own robot: a two-link arm with a site at its tip.
  writeFileSync(
    join(project, 'arm.xml'),
    [
      '<mujoco model="project-arm">',
      '  <option timestep="0.01"><flag warmstart="disable"/></option>',
      '  <worldbody>',
      '    <geom name="floor" type="plane" size="2 2 0.1"/>',
      '    <body name="upper" pos="0 0 0.1">',
      '      <joint name="shoulder" type="hinge" axis="0 1 0" range="-3 3" limited="true"/>',
      '      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/>',
      '      <body name="lower" pos="0.3 0 0">',
      '        <joint name="elbow" type="hinge" axis="0 1 0" range="-3 3" limited="true"/>',
      '        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.025"/>',
      '        <site name="tip" pos="0.3 0 0"/>',
      '      </body>',
      '    </body>',
      '  </worldbody>',
      '  <actuator>',
      '    <motor joint="shoulder" gear="5" ctrlrange="-1 1" ctrllimited="true"/>',
      '    <motor joint="elbow" gear="3" ctrlrange="-1 1" ctrllimited="true"/>',
      '  </actuator>',
      '</mujoco>',
      '',
    ].join('\n'),
  );
}, 120_000);

describe('prefrl installed from its npm pack tarball into a project', () => {
  it("packs the files the commands read at run time (the bench references' scripts too), and not the tests or the committed benchmark results", () => {
    const files = new Set(packedFiles);
    const needed = ['benchmarks/torch/reward_step.py', 'benchmarks/torch/ppo_update.py', 'benchmarks/torch/iql_update.py', 'benchmarks/torch/bench_common.py', 'benchmarks/native/mjbench.c', 'docs/cli.md', 'dist/viewer-web/mujoco.wasm', 'dist/viewer-web/app.js', 'dist/viewer-web/render.js'];
    expect(needed.filter((f) => !files.has(f))).toEqual([]);
    for (const xml of readdirSync(join(REPO, 'envs', 'assets')).filter((f) => f.endsWith('.xml'))) expect(files.has(`envs/assets/${xml}`), xml).toBe(true);
    expect(packedFiles.filter((f) => f.startsWith('test/') || f.startsWith('benchmarks/results/') || f.startsWith('.ci/'))).toEqual([]);
  });

  it("finds the bench references' scripts from its compiled modules (bench reward looked in dist/benchmarks/torch, which does not exist)", async () => {
    const reward = (await import(pathToFileURL(join(pkg, 'dist', 'scripts', 'commands', 'bench_reward.js')).href)) as { TORCH_SCRIPT: string };
    expect(reward.TORCH_SCRIPT).toBe(join(pkg, 'benchmarks', 'torch', 'reward_step.py'));
    expect(existsSync(reward.TORCH_SCRIPT)).toBe(true);
  });

  it('has no import in its compiled code of a package that is not a dependency, an optional dependency or a Node built-in', () => {
    const allowed = new Set([...Object.keys(PJ.dependencies), ...Object.keys(PJ.optionalDependencies ?? {}), 'prefrl']);
    const builtins = new Set(builtinModules);
    const bad: string[] = [];
    const files = [bin, ...filesUnder(join(pkg, 'dist'), '.js').filter((f) => !f.includes(`${join('dist', 'viewer-web')}`))];
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      // Comments are stripped first: doc comments quote `import ... from 'prefrl'`.
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      const specs = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|(?:require|\))\.resolve\s*\(\s*)(['"])([@\w][\w@./-]*)\1/g)].map((m) => m[2]);
      for (const spec of specs) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!allowed.has(name)) bad.push(`${relative(pkg, file)}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('runs its bin from the project folder: --version names the package version and the MuJoCo build', () => {
    const r = prefrl(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^prefrl ${PJ.version.replace(/\./g, '\\.')} \\(MuJoCo \\d+\\.\\d+\\.\\d+ WASM, Node v`));
  });

  it('steps every built-in robot from the MJCF assets in the package (tour, one episode each)', () => {
    const r = prefrl(['tour', '--episodes', '1', '--json', '--runs-dir', 'runs']);
    expect(r.status, r.stderr).toBe(0);
    const tour = lastJson<{ runDir: string; envs: { env: string; steps: number }[] }>(r.stdout);
    expect(tour.envs.map((e) => e.env).sort()).toEqual(['cartpole-swingup', 'cheetah-run', 'hopper-hop', 'pusher', 'reacher', 'walker-walk']);
    for (const e of tour.envs) expect(e.steps, e.env).toBeGreaterThan(0);
    // The run folder is the project's, not the package's.
    expect(tour.runDir.startsWith(join(project, 'runs'))).toBe(true);
  });

  it("trains on the project's own robot with a TypeScript task module importing 'prefrl', in a worker thread, its reward model on the WASM tensor backend", () => {
    writeFileSync(
      join(project, 'lift_task.ts'),
      [
        "import { defineTask } from 'prefrl';",
        'export default defineTask({',
        "  id: 'project-arm-lift', goal: 'Raise the tip of the arm.',",
        "  rewardTerms: [{ name: 'tip_height', weight: 1, doc: 'height of the tip, m' }],",
        '  horizon: 50, frameSkip: 4,',
        '  bind(physics) {',
        "    const tip = physics.id('site', 'tip');",
        '    return {',
        '      obsDim: physics.nq + physics.nv,',
        '      initialize() {},',
        '      observe(p, out) { out.set(p.views.qpos, 0); out.set(p.views.qvel, p.nq); },',
        '      rewardTerms(p, action, out) { out[0] = p.views.siteXpos[3 * tip + 2] ?? 0; },',
        '      terminated: () => false,',
        '    };',
        '  },',
        '});',
        '',
      ].join('\n'),
    );
    const r = prefrl(['train', '--model', 'arm.xml', '--task', 'lift_task.ts', '--teacher', 'oracle', '--labels', '10', '--labels-per-round', '10', '--segment-length', '10', '--warmup-steps', '128', '--reward-epochs', '2', '--steps', '256', '--num-envs', '2', '--num-steps', '64', '--workers', '1', '--backend', 'wasm', '--eval-episodes', '1', '--eval-every', '256', '--runs-dir', 'runs', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('tensor backend: wasm');
    const s = lastJson<{ env: string; envSteps: number; labelsUsed: number; finalTrueReturn: number }>(r.stdout);
    expect(s.env).toBe('custom:arm.xml');
    expect(s.envSteps).toBe(256);
    expect(s.labelsUsed).toBe(10);
    expect(Number.isFinite(s.finalTrueReturn)).toBe(true);
  });

  it('serves the viewer page, its bundle and mujoco.wasm from the package, and renders a stored pair to a PNG', async () => {
    const ro = prefrl(['rollout', '--env', 'reacher', '--episodes', '2', '--runs-dir', 'runs', '--json']);
    expect(ro.status, ro.stderr).toBe(0);
    const runDir = lastJson<{ runDir: string }>(ro.stdout).runDir;
    const pairs = prefrl(['pairs', '--trajectories', runDir, '--count', '2', '--store', 'labels.sqlite']);
    expect(pairs.status, pairs.stderr).toBe(0);
    const web = join(pkg, 'dist', 'viewer-web');
    const server: ChildProcess = spawn(process.execPath, [bin, 'serve', '--store', 'labels.sqlite', '--port', '0'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    try {
      const url = await new Promise<string>((done, fail) => {
        let err = '';
        server.stderr?.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err);
          if (m) done(m[1]);
        });
        server.on('exit', (code) => fail(new Error(`prefrl serve exited (${code}) before it listened: ${err}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toBe(readFileSync(join(web, 'index.html'), 'utf8'));
      expect(html).toContain('src="app.js"');
      for (const [file, type] of [['app.js', 'text/javascript'], ['style.css', 'text/css'], ['mujoco.wasm', 'application/wasm']] as const) {
        const res = await fetch(new URL(file, url), { headers: { 'accept-encoding': 'identity' } });
        expect(res.status, file).toBe(200);
        expect(res.headers.get('content-type'), file).toContain(type);
        const body = Buffer.from(await res.arrayBuffer());
        expect(body.equals(readFileSync(join(web, file))), file).toBe(true);
      }
      const wasm = readFileSync(join(web, 'mujoco.wasm'));
      expect([...wasm.subarray(0, 4)]).toEqual([0, 0x61, 0x73, 0x6d]); // "\0asm"
    } finally {
      server.kill('SIGTERM');
    }
    if (!renderToolsAvailable(false)) return; // headless Chromium is needed for the PNG (npm test's viewer tests need it too)
    const out = join(project, 'pair0.png');
    const r = prefrl(['render', '--store', 'labels.sqlite', '--pair', '0', '--out', 'pair0.png', '--width', '320', '--height', '120', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const png = readFileSync(out);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([320, 120]); // IHDR width, height
  });

  it("runs a script importing 'prefrl' and gets the same random rollout as the repository's sources", async () => {
    writeFileSync(
      join(project, 'script.mjs'),
      [
        "import { initBackend, currentBackend, makeEnv, randomPolicy, rollout, Rng } from 'prefrl';",
        "await initBackend('wasm');",
        "const env = await makeEnv('reacher');",
        'const [ep] = rollout(env, randomPolicy(env.spec, new Rng(7)), { episodes: 1, seed: 7 });',
        'console.log(JSON.stringify({ backend: currentBackend().name, steps: ep.rewards.length, ret: ep.rewards.reduce((a, r) => a + r, 0) }));',
        'env.dispose();',
        '',
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, ['script.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = lastJson<{ backend: string; steps: number; ret: number }>(r.stdout);
    const env = await makeEnv('reacher');
    const [ep] = rollout(env, randomPolicy(env.spec, new Rng(7)), { episodes: 1, seed: 7 });
    env.dispose();
    expect(got).toEqual({ backend: 'wasm', steps: 200, ret: ep.rewards.reduce((a, x) => a + x, 0) });
  });

  it("type-checks a TypeScript script against the package's exported types (tsc, skipLibCheck as the README says)", () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, noEmit: true, types: [] }, include: ['typed.ts'] }),
    );
    writeFileSync(
      join(project, 'typed.ts'),
      [
        "import { makeEnv, Rng, type EnvSpec, type Trajectory } from 'prefrl';",
        "const env = await makeEnv('reacher');",
        'const spec: EnvSpec = env.spec;',
        'const n: number = spec.obsDim;',
        'const eps: Trajectory[] = [];',
        '// @ts-expect-error  obsDim is a number: an error only when the types resolved (any would accept it)',
        'const wrong: string = spec.obsDim;',
        'console.log(new Rng(0).uniform(), wrong);',
        'console.log(n, eps.length);',
        '',
      ].join('\n'),
    );
    const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    // A script that misuses the types fails, naming its file.
    writeFileSync(join(project, 'typed.ts'), "import { makeEnv } from 'prefrl';\nconst x: string = await makeEnv('reacher');\nconsole.log(x);\n");
    const bad = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/^typed\.ts\(2,7\): error TS2322/);
  });
});
