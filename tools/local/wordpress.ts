/**
 * A real, throwaway WordPress on loopback for integration tests and local development: MariaDB in a
 * temp datadir (unix socket only, no networking), WordPress core copied from the Debian package that
 * `.ci/wordpress-deps.sh` extracts into .cache/wordpress/, our own wp-config.php, `wp_install()` from a
 * PHP script, pretty permalinks through a router for PHP's built-in server, an admin with an application
 * password, and plugins symlinked and activated. The PHP programs are files in tools/local/php/. Outbound HTTP is limited to loopback/the site's own host
 * (WP_HTTP_BLOCK_EXTERNAL), WP-cron only runs when `runCron()` is called, and mail is dropped.
 *
 * Several instances can run in one process (each has its own dir, socket and port).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './stack.ts';

const HOST = '127.0.0.1';
const DEPS_HINT = 'run `bash .ci/wordpress-deps.sh` (as root) to install PHP, MariaDB and the WordPress core';
/** Where the Debian package puts the core, inside the extracted tree. */
const DEBIAN_CORE = '/usr/share/wordpress';
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface WordPressOptions {
  /** Working folder (database, docroot, logs). A fresh temp folder by default, removed by stop(). */
  dir?: string;
  /** Loopback port; a free one by default. */
  port?: number;
  /** Plugin folders to symlink into wp-content/plugins and activate. */
  plugins?: string[];
  /** update_option(name, value) for each entry, after the plugins are activated. */
  options?: Record<string, unknown>;
  /** Start-up messages and the PHP server's non-access-log output. */
  log?: (line: string) => void;
  /** Where the extracted Debian `wordpress` package lives (default: <repo>/.cache/wordpress/root). */
  coreTree?: string;
}

export interface WordPress {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Absolute URL of /wp-json/<path>. */
  rest(path: string): string;
  admin: { user: string; password: string; appPassword: string };
  /** The working folder (docroot is `${dir}/www`, the debug log `${dir}/debug.log`). */
  dir: string;
  docroot: string;
  debugLog: string;
  /** Runs a PHP snippet (statements, with or without a leading `<?php`) after wp-load.php; returns stdout. */
  php(code: string): Promise<string>;
  /** Runs every WP-cron event that is due now, synchronously (repeats while handlers queue due events). */
  runCron(): Promise<void>;
  stop(): Promise<void>;
}

interface Proc {
  child: ChildProcess;
  output: () => string;
}

function run(
  file: string,
  args: string[],
  opts: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    label?: string;
    /** Holds the child while it runs (so stop() can end it). */
    track?: Set<ChildProcess>;
  } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
      },
      (error, stdout, stderr) => {
        if (error) {
          const e = error as NodeJS.ErrnoException & { code?: string | number };
          if (e.code === 'ENOENT') reject(new Error(`${file} not found: ${DEPS_HINT}`));
          else
            reject(
              Object.assign(
                new Error(
                  `${opts.label ?? basename(file)} failed (${e.code ?? e.message}):\n${clean(stderr, stdout)}`,
                ),
                {
                  stdout,
                  stderr,
                },
              ),
            );
          return;
        }
        resolveRun({ stdout, stderr });
      },
    );
    if (opts.track) {
      opts.track.add(child);
      child.once('exit', () => opts.track?.delete(child));
    }
  });
}

/** stderr without WordPress 6.1's PHP 8.2 deprecation noise, plus the tail of stdout. */
function clean(stderr: string, stdout: string): string {
  const lines = stderr
    .split('\n')
    .filter(
      (l) => l.trim() !== '' && !/^(PHP )?Deprecated:/.test(l) && !/\bDeprecated:/.test(l.slice(0, 40)),
    );
  const out = stdout.trim();
  return [lines.slice(-40).join('\n'), out ? `stdout: ${out.slice(-2000)}` : ''].filter(Boolean).join('\n');
}

function which(binary: string, extra: string[] = []): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/bin', ...extra];
  for (const d of dirs) {
    if (d && existsSync(join(d, binary))) return join(d, binary);
  }
  return undefined;
}

function spawnLogged(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Proc {
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  const keep = (chunk: Buffer) => {
    buffer = (buffer + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => buffer };
}

/** Children of a process (from /proc), e.g. the PHP built-in server's workers. */
function childPidsSync(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Running (a zombie, exited but not yet reaped by its parent, counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pids.every((p) => !alive(p))) return true;
    await sleep(25);
  }
  return pids.every((p) => !alive(p));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function terminate(pids: number[]): Promise<void> {
  const live = pids.filter(alive);
  for (const p of live) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (!(await waitGone(live, 5000))) {
    for (const p of live.filter(alive)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitGone(live, 2000);
  }
}

/** Resolves when a MariaDB server on the socket sends its greeting. */
async function waitForMariaDb(socket: string, proc: Proc, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null)
      throw new Error(
        `mariadbd exited (${proc.child.exitCode ?? proc.child.signalCode}):\n${proc.output().slice(-4000)}`,
      );
    if (existsSync(socket)) {
      const greeted = await new Promise<boolean>((r) => {
        const c = createConnection(socket);
        const timer = setTimeout(() => {
          c.destroy();
          r(false);
        }, 2000);
        c.once('data', () => {
          clearTimeout(timer);
          c.destroy();
          r(true);
        });
        c.once('error', () => {
          clearTimeout(timer);
          r(false);
        });
      });
      if (greeted) return;
    }
    await sleep(50);
  }
  throw new Error(
    `mariadbd did not answer on ${socket} within ${timeoutMs} ms:\n${proc.output().slice(-4000)}`,
  );
}

/**
 * Copies the core and re-points the Debian package's symlinks (relative ones break when copied). Core
 * files are hard links to the cache when it is on the same filesystem (50 ms instead of seconds; WordPress
 * never writes core files in place here: no updates, no file editing); wp-content is a real copy.
 */
async function copyCore(tree: string, docroot: string): Promise<void> {
  const core = join(tree, DEBIAN_CORE.slice(1));
  try {
    await run('cp', ['-al', core, docroot], { label: 'cp -al' });
    await rm(join(docroot, 'wp-content'), { recursive: true, force: true });
    await run('cp', ['-a', join(core, 'wp-content'), join(docroot, 'wp-content')], { label: 'cp -a' });
  } catch {
    await rm(docroot, { recursive: true, force: true });
    await run('cp', ['-a', core, docroot], { label: 'cp -a' });
  }
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isSymbolicLink()) {
        const target = await readlink(path);
        const original = join(DEBIAN_CORE, relative(docroot, path));
        const absolute = target.startsWith('/') ? target : resolve(dirname(original), target);
        await unlink(path);
        // Points into the real system (/usr/share/php/getid3, /usr/share/javascript, /etc/ssl); drop the
        // ones that lead nowhere (e.g. /etc/wordpress/htaccess).
        if (existsSync(absolute)) await symlink(absolute, path);
      }
    }
  };
  await walk(docroot);
  // Debian's wp-config.php reads /etc/wordpress; ours replaces it.
  await rm(join(docroot, 'wp-config.php'), { force: true });
}

/**
 * The PHP programs (each a complete .php file, linted with `php -l` by the tests); what differs between
 * instances reaches them at run time, never as code: router.php takes the docroot from the server,
 * wp-config.php (copied into the docroot) reads DIR/wp-config.json, setup.php reads DIR/setup.json,
 * cron.php and snippet.php take the docroot (and the snippet file) as arguments.
 */
const PHP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'php');
const PHP_PROGRAM = {
  router: join(PHP_DIR, 'router.php'),
  muPlugin: join(PHP_DIR, 'mu-plugin.php'),
  wpConfig: join(PHP_DIR, 'wp-config.php'),
  setup: join(PHP_DIR, 'setup.php'),
  cron: join(PHP_DIR, 'cron.php'),
  snippet: join(PHP_DIR, 'snippet.php'),
} as const;

const SALTS = [
  'AUTH_KEY',
  'SECURE_AUTH_KEY',
  'LOGGED_IN_KEY',
  'NONCE_KEY',
  'AUTH_SALT',
  'SECURE_AUTH_SALT',
  'LOGGED_IN_SALT',
  'NONCE_SALT',
];

/** DIR/wp-config.json, the settings php/wp-config.php reads (see there). */
function wpConfigSettings(o: {
  url: string;
  socket: string;
  dbName: string;
  dbUser: string;
  dbPassword: string;
  log: string;
  salts: Record<string, string>;
}): string {
  return `${JSON.stringify(
    {
      db_name: o.dbName,
      db_user: o.dbUser,
      db_password: o.dbPassword,
      db_host: `localhost:${o.socket}`,
      url: o.url,
      debug_log: o.log,
      salts: o.salts,
    },
    null,
    2,
  )}\n`;
}

/** Starts MariaDB + WordPress; see the module comment. */
export async function startWordPress(options: WordPressOptions = {}): Promise<WordPress> {
  const t0 = performance.now();
  const log = options.log ?? (() => {});
  const php = which('php');
  const mariadbd = which('mariadbd');
  const installDb = which('mariadb-install-db');
  if (!php) throw new Error(`php is not installed: ${DEPS_HINT}`);
  if (!mariadbd || !installDb)
    throw new Error(`mariadbd / mariadb-install-db are not installed: ${DEPS_HINT}`);
  const tree = options.coreTree ?? join(REPO_ROOT, '.cache/wordpress/root');
  if (!existsSync(join(tree, DEBIAN_CORE.slice(1), 'wp-settings.php')))
    throw new Error(`WordPress core not found under ${tree}: ${DEPS_HINT}`);

  const ownDir = options.dir === undefined;
  const dir = options.dir ? resolve(options.dir) : await mkdtemp(join(tmpdir(), 'mmlq-wp-'));
  await mkdir(dir, { recursive: true });
  const datadir = join(dir, 'db');
  const docroot = join(dir, 'www');
  const debugLog = join(dir, 'debug.log');
  const snippets = join(dir, 'php');
  await mkdir(snippets, { recursive: true });
  // Unix socket paths are limited to ~107 bytes.
  let socketDir = dir;
  let ownSocketDir = false;
  if (join(dir, 'mysqld.sock').length > 100) {
    socketDir = await mkdtemp(join(tmpdir(), 'wp-sock-'));
    ownSocketDir = true;
  }
  const socket = join(socketDir, 'mysqld.sock');
  const me = userInfo().username;
  const procs: Proc[] = [];
  /** PHP snippets running now (runCron, php()): ended first by stop(). */
  const snippetsRunning = new Set<ChildProcess>();
  let server: Proc | undefined;
  let stopped = false;

  const onExit = () => {
    // Last resort when the process exits without stop(): SIGKILL the server's workers, the server and
    // mariadbd (synchronously; the temp folder stays behind).
    const pids: number[] = [];
    const master = server?.child.pid;
    if (master !== undefined) pids.push(...childPidsSync(master), master);
    for (const p of procs) if (p.child.pid !== undefined) pids.push(p.child.pid);
    for (const c of snippetsRunning) if (c.pid !== undefined) pids.push(c.pid);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    // Cron and other snippets before the servers they talk to (else they wait on a dead socket).
    await terminate([...snippetsRunning].flatMap((c) => (c.pid === undefined ? [] : [c.pid])));
    if (server?.child.pid !== undefined) {
      const master = server.child.pid;
      await terminate(childPidsSync(master));
      await terminate([master]);
    }
    for (const p of procs) if (p.child.pid !== undefined) await terminate([p.child.pid]);
    if (ownDir) await rm(dir, { recursive: true, force: true });
    if (ownSocketDir) await rm(socketDir, { recursive: true, force: true });
  };

  try {
    // 1. MariaDB.
    const tDb = performance.now();
    if (!existsSync(join(datadir, 'mysql'))) {
      await mkdir(datadir, { recursive: true });
      await run(installDb, [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--user=${me}`,
        '--skip-test-db',
        '--auth-root-authentication-method=socket',
        '--skip-name-resolve',
      ]);
    }
    const dbPassword = randomBytes(12).toString('hex');
    const initFile = join(dir, 'init.sql');
    await writeFile(
      initFile,
      [
        'CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4;',
        `CREATE OR REPLACE USER 'wordpress'@'localhost' IDENTIFIED BY '${dbPassword}';`,
        "GRANT ALL PRIVILEGES ON wordpress.* TO 'wordpress'@'localhost';",
        '',
      ].join('\n'),
    );
    const db = spawnLogged(mariadbd, [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--socket=${socket}`,
      '--skip-networking',
      `--user=${me}`,
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      `--init-file=${initFile}`,
      '--skip-log-bin',
      '--innodb-buffer-pool-size=32M',
      '--innodb-flush-log-at-trx-commit=0',
      '--skip-innodb-doublewrite',
      '--character-set-server=utf8mb4',
    ]);
    procs.push(db);
    await waitForMariaDb(socket, db, 30_000);
    const dbMs = performance.now() - tDb;

    // 2. Core, config, router, harness mu-plugin.
    const tWp = performance.now();
    if (!existsSync(join(docroot, 'wp-settings.php'))) await copyCore(tree, docroot);
    await mkdir(join(docroot, 'wp-content/mu-plugins'), { recursive: true });
    await mkdir(join(docroot, 'wp-content/uploads'), { recursive: true });
    await copyFile(PHP_PROGRAM.muPlugin, join(docroot, 'wp-content/mu-plugins/local-harness.php'));
    // A copy, not a link: it finds DIR/wp-config.json from its own folder (__DIR__ resolves links).
    await copyFile(PHP_PROGRAM.wpConfig, join(docroot, 'wp-config.php'));
    for (const plugin of options.plugins ?? []) {
      const source = resolve(plugin);
      if (!existsSync(source)) throw new Error(`plugin folder not found: ${source}`);
      const link = join(docroot, 'wp-content/plugins', basename(source));
      await rm(link, { recursive: true, force: true });
      await symlink(source, link);
    }

    const user = 'admin';
    const password = randomBytes(12).toString('base64url');
    const phpEnv = { ...process.env };
    const phpArgs = [
      '-d',
      'display_errors=stderr',
      '-d',
      'memory_limit=512M',
      '-d',
      'error_reporting=E_ALL & ~E_DEPRECATED',
    ];

    let port = options.port ?? (await freePort());
    let url = `http://${HOST}:${port}`;
    const salts = Object.fromEntries(SALTS.map((k) => [k, randomBytes(32).toString('hex')]));
    const writeConfig = () =>
      writeFile(
        join(dir, 'wp-config.json'),
        wpConfigSettings({
          url,
          socket,
          dbName: 'wordpress',
          dbUser: 'wordpress',
          dbPassword,
          log: debugLog,
          salts,
        }),
        { mode: 0o600 },
      );
    await writeConfig();

    // 3. Install, admin, application password, plugins, options.
    const setupInput = join(dir, 'setup.json');
    await writeFile(
      setupInput,
      JSON.stringify({
        docroot,
        user,
        email: 'admin@example.test',
        password,
        plugins: (options.plugins ?? []).map((p) => basename(resolve(p))),
        options: options.options ?? {},
      }),
    );
    const { stdout: setupOut } = await run(php, [...phpArgs, PHP_PROGRAM.setup, setupInput], {
      cwd: docroot,
      env: phpEnv,
    });
    const setupLine = setupOut.trim().split('\n').pop() ?? '';
    const setup = JSON.parse(setupLine) as { appPassword: string; activated: string[]; version: string };
    const installMs = performance.now() - tWp;

    // 4. The server (4 workers: WordPress's loopback requests stall with one).
    const tServe = performance.now();
    for (let attempt = 1; ; attempt++) {
      const proc = spawnLogged(
        php,
        [
          '-d',
          'upload_max_filesize=64M',
          '-d',
          'post_max_size=64M',
          '-S',
          `${HOST}:${port}`,
          '-t',
          docroot,
          PHP_PROGRAM.router,
        ],
        { env: { ...phpEnv, PHP_CLI_SERVER_WORKERS: '4' }, cwd: docroot },
      );
      server = proc;
      let partial = '';
      proc.child.stderr?.on('data', (chunk: Buffer) => {
        partial += chunk.toString();
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines)
          if (line && !/ (Accepted|Closing)$|Development Server .* started|\[\d{3}\]: [A-Z]+ \//.test(line))
            log(`wordpress ${port}: ${line}`);
      });
      const ready = await waitForRest(url, proc, 20_000);
      if (ready === true) break;
      const bindFailed = /Address already in use|Failed to listen/i.test(proc.output());
      if (bindFailed && options.port === undefined && attempt < 4) {
        port = await freePort();
        url = `http://${HOST}:${port}`;
        await writeConfig();
        continue;
      }
      throw new Error(
        `WordPress did not answer JSON on ${url}/wp-json/: ${ready}\n${proc.output().slice(-4000)}`,
      );
    }
    const serveMs = performance.now() - tServe;
    log(
      `wordpress: ${setup.version} ready at ${url} in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
        `(db ${(dbMs / 1000).toFixed(1)} s, install ${(installMs / 1000).toFixed(1)} s, server ${(serveMs / 1000).toFixed(1)} s; ` +
        `plugins: ${setup.activated.join(', ') || 'none'})`,
    );

    let snippetCount = 0;
    /** Runs a PHP program with the docroot (and more arguments) on its command line; returns stdout. */
    const runProgram = async (program: string, args: string[], label: string): Promise<string> => {
      if (stopped) throw new Error('WordPress is stopped');
      const { stdout } = await run(php, [...phpArgs, program, docroot, ...args], {
        cwd: docroot,
        env: phpEnv,
        label,
        track: snippetsRunning,
      });
      return stdout;
    };
    const runPhp = async (code: string): Promise<string> => {
      if (stopped) throw new Error('WordPress is stopped');
      const body = code.replace(/^\s*<\?php\b/, '');
      const file = join(snippets, `snippet-${++snippetCount}.php`);
      // The code as its own file (line 2 on, as before), run by php/snippet.php after wp-load.php.
      await writeFile(file, `<?php\n${body}\n`);
      try {
        return await runProgram(PHP_PROGRAM.snippet, [file], 'PHP snippet');
      } finally {
        await rm(file, { force: true });
      }
    };

    const wp: WordPress = {
      url,
      rest: (path: string) => `${url}/wp-json/${path.replace(/^\/+/, '')}`,
      admin: { user, password, appPassword: setup.appPassword },
      dir,
      docroot,
      debugLog,
      php: (code) => runPhp(code),
      runCron: async () => {
        await runProgram(PHP_PROGRAM.cron, [], 'PHP cron');
      },
      stop,
    };
    return wp;
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** true once /wp-json/ answers JSON; otherwise a reason (after the deadline or when the server exits). */
async function waitForRest(url: string, proc: Proc, timeoutMs: number): Promise<true | string> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null)
      return `php -S exited (${proc.child.exitCode ?? proc.child.signalCode})`;
    try {
      const res = await fetch(`${url}/wp-json/`, { signal: AbortSignal.timeout(5000) });
      const type = res.headers.get('content-type') ?? '';
      const body = await res.text();
      if (res.ok && type.includes('application/json')) return true;
      last = `HTTP ${res.status} ${type}: ${body.slice(0, 300)}`;
      if (res.status < 500) return last;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(50);
  }
  return last;
}
