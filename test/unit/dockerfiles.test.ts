/**
 * A project lint of the scorer Dockerfiles (hadolint is not installable here: it is on neither Debian's
 * archive nor npm), on the rules that broke or would break a real build:
 *  - every FROM names a known base image (.ci/docker-base-images.json) by a tag that is not `latest`, or
 *    an earlier stage, and pins `--platform=linux/amd64` (Lambda x86_64 and g4dn are amd64; an image
 *    built on an arm64 laptop otherwise fails to start there);
 *  - RUN and HEALTHCHECK call only commands their stage's base image has (no `find` on Amazon Linux
 *    2023 minimal), shell builtins, and what an install earlier in the stage adds;
 *  - the Node line of the images is the Lambda runtime's (serverless.yml provider.runtime), and so is
 *    tools/build-functions.ts's bundle target;
 *  - .dockerignore lets through every COPY source and keeps out node_modules, .git, dist, caches, tests.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const DOCKERFILES = ['functions/scorer/Dockerfile', 'functions/scorer/Dockerfile.gpu'];
const BUILTINS = new Set(
  'cd test [ echo exit set export true false command printf if then else fi for do done while read'.split(
    ' ',
  ),
);

interface BaseImages {
  images: Record<string, { nodeMajor: 'tag' | 'none'; commands: string[] }>;
  installs: Record<string, string[]>;
}
interface Stage {
  name: string | undefined;
  image: string;
  tag: string;
  platform: string | undefined;
  instructions: { op: string; args: string }[];
}

/** Instructions of a Dockerfile: continuation lines joined, comment lines (also inside them) dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    current += current ? ` ${line.trim()}` : line.trim();
    if (current.endsWith('\\')) {
      current = current.slice(0, -1).trimEnd();
      continue;
    }
    if (current) {
      const [op, ...rest] = current.split(/\s+/);
      out.push({ op: op!.toUpperCase(), args: rest.join(' ') });
    }
    current = '';
  }
  return out;
}

function stages(text: string): Stage[] {
  const all: Stage[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.op === 'FROM') {
      const words = instruction.args.split(/\s+/);
      const platform = words.find((w) => w.startsWith('--platform='))?.slice('--platform='.length);
      const [ref, as, name] = words.filter((w) => !w.startsWith('--'));
      const colon = ref!.lastIndexOf(':');
      const slash = ref!.lastIndexOf('/');
      const [image, tag] = colon > slash ? [ref!.slice(0, colon), ref!.slice(colon + 1)] : [ref!, ''];
      all.push({
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        image,
        tag,
        platform,
        instructions: [],
      });
    } else {
      all.at(-1)?.instructions.push(instruction);
    }
  }
  return all;
}

/** The simple commands of a shell line: split on ; && || | ( ) outside quotes. */
function simpleCommands(shell: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let quote: string | undefined;
  const endWord = () => {
    if (word) words.push(word);
    word = '';
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  for (let i = 0; i < shell.length; i++) {
    const c = shell[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (';|&()'.includes(c)) {
      endCommand();
    } else if (/\s/.test(c)) {
      endWord();
    } else {
      word += c;
    }
  }
  endCommand();
  return commands;
}

/** The command each simple command runs (after VAR=value prefixes). */
const commandNames = (shell: string) =>
  simpleCommands(shell)
    .map((words) => words.find((w) => !/^\w+=/.test(w)))
    .filter((w): w is string => w !== undefined);

/** Packages an `apt-get install` / `dnf install` in the line adds. */
const installed = (shell: string) =>
  simpleCommands(shell)
    .filter((w) => /^(apt-get|dnf|microdnf)$/.test(w[0]!) && w.includes('install'))
    .flatMap((w) => w.slice(w.indexOf('install') + 1).filter((p) => !p.startsWith('-')));

let base: BaseImages;
let lambdaNode: string;
const files: Record<string, Stage[]> = {};

beforeAll(async () => {
  base = JSON.parse(await readFile(join(REPO, '.ci/docker-base-images.json'), 'utf8'));
  const runtime = /^\s+runtime:\s*nodejs(\d+)\.x\s*$/m.exec(
    await readFile(join(REPO, 'serverless.yml'), 'utf8'),
  );
  lambdaNode = runtime![1]!;
  for (const file of DOCKERFILES) files[file] = stages(await readFile(join(REPO, file), 'utf8'));
});

describe.each(DOCKERFILES)('%s', (file) => {
  it('builds every stage from a known base image by tag (not latest), for linux/amd64', () => {
    for (const stage of files[file]!) {
      expect(stage.platform, `${stage.image}: FROM --platform=linux/amd64`).toBe('linux/amd64');
      expect(Object.keys(base.images), `${stage.image} is not in .ci/docker-base-images.json`).toContain(
        stage.image,
      );
      expect(stage.tag, `${stage.image}: a tag`).toMatch(/^[\w][\w.-]*$/);
      expect(stage.tag, stage.image).not.toBe('latest');
    }
  });

  it('runs only commands the stage has: its base image, builtins, and what the stage installed', () => {
    for (const stage of files[file]!) {
      const have = new Set([...base.images[stage.image]!.commands, ...BUILTINS]);
      for (const { op, args } of stage.instructions) {
        const shell = op === 'RUN' ? args : op === 'HEALTHCHECK' ? args.replace(/^.*?\bCMD\s+/, '') : '';
        if (!shell || shell.startsWith('[')) continue;
        for (const command of commandNames(shell)) {
          expect(have.has(command), `${stage.image}:${stage.tag} has no \`${command}\` (${op} ${args})`).toBe(
            true,
          );
        }
        for (const pkg of installed(shell)) for (const c of base.installs[pkg] ?? [pkg]) have.add(c);
      }
    }
  });

  it("ships the Lambda runtime's Node line (serverless.yml provider.runtime)", () => {
    const all = files[file]!;
    const final = all.at(-1)!;
    const major = (stage: Stage) =>
      base.images[stage.image]!.nodeMajor === 'tag' ? /^(\d+)/.exec(stage.tag)?.[1] : undefined;
    for (const stage of all.filter((s) => major(s) !== undefined)) {
      expect(major(stage), `${stage.image}:${stage.tag}`).toBe(lambdaNode);
    }
    if (major(final) === undefined) {
      // No Node in the final base image: its node binary comes from a Node stage.
      const copy = final.instructions.find((i) => i.op === 'COPY' && /\/bin\/node(\s|$)/.test(i.args));
      const from = /--from=(\S+)/.exec(copy?.args ?? '')?.[1];
      const source = all.find((s) => s.name === from);
      expect(source && major(source), `${file}: the final stage's node`).toBe(lambdaNode);
    }
  });
});

describe('the project lint itself', () => {
  it('finds `find` on Amazon Linux 2023 minimal and splits shell lines outside quotes only', () => {
    const have = new Set(base.images['public.ecr.aws/lambda/nodejs']!.commands);
    expect(commandNames('npm prune && find x -exec rm -rf {} +').filter((c) => !have.has(c))).toEqual([
      'find',
    ]);
    expect(commandNames(`A=1 node -e "a(); b && c" || (cd x && npm ci)`)).toEqual(['node', 'cd', 'npm']);
    expect(installed('apt-get update && apt-get install -y --no-install-recommends curl tar')).toEqual([
      'curl',
      'tar',
    ]);
  });

  it("bundles the functions for the Lambda runtime's Node (tools/build-functions.ts LAMBDA_NODE)", async () => {
    const build = await readFile(join(REPO, 'tools/build-functions.ts'), 'utf8');
    expect(/const LAMBDA_NODE = 'node(\d+)'/.exec(build)?.[1]).toBe(lambdaNode);
  });
});

/** .dockerignore semantics (the last matching pattern wins; a matched folder covers its contents). */
function ignoredBy(patterns: string[]) {
  const rules = patterns.map((line) => {
    const negate = line.startsWith('!');
    const body = (negate ? line.slice(1) : line).replace(/\/$/, '');
    const source = body
      .split('/')
      .map((part) =>
        part === '**' ? '(?:.*)' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*'),
      )
      .join('/')
      .replaceAll('(?:.*)/', '(?:.*/)?');
    return { negate, re: new RegExp(`^${source}(?:/.*)?$`) };
  });
  return (path: string) => {
    let ignored = false;
    for (const { negate, re } of rules) if (re.test(path)) ignored = !negate;
    return ignored;
  };
}

describe('.dockerignore', () => {
  let ignored: (path: string) => boolean;
  beforeAll(async () => {
    const text = await readFile(join(REPO, '.dockerignore'), 'utf8');
    ignored = ignoredBy(
      text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#')),
    );
  });

  it('sends every file the COPY lines use', async () => {
    const sources = new Set<string>();
    for (const file of DOCKERFILES) {
      for (const stage of files[file]!) {
        const args = Object.fromEntries(
          stage.instructions.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]),
        );
        for (const { op, args: line } of stage.instructions) {
          if (op !== 'COPY' || line.includes('--from=')) continue;
          const words = line.split(/\s+/).slice(0, -1);
          for (const w of words)
            sources.add(w.replace(/\$\{(\w+)\}/g, (_, n: string) => args[n]!).replace(/\/$/, ''));
        }
      }
    }
    expect([...sources].sort()).toContain('models/mmlq-mnv2-synth');
    for (const source of sources) {
      const entries = await readdir(join(REPO, source), { recursive: true, withFileTypes: true }).catch(
        () => null,
      );
      const paths = entries
        ? entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(REPO.length + 1))
        : [source];
      for (const path of paths)
        expect(ignored(path), `${path} is COPYed but .dockerignore drops it`).toBe(false);
    }
  });

  it('keeps out dependencies, git, build output, local state, caches, tests and model work folders', () => {
    for (const path of [
      'node_modules/sharp/package.json',
      '.git/HEAD',
      'dist/functions/scorer/handler.mjs',
      '.local/drop/a.jpg',
      '.cache/wordpress/x.deb',
      '.serverless/cloudformation-template-update-stack.json',
      'test/fixtures/samples/rocket.jpg',
      'models/mmlq/build.py',
      'models/.cache/clip/x.bin',
      'docs/DEPLOY.md',
      'layers/core/node_modules/x/index.js',
    ]) {
      expect(ignored(path), path).toBe(true);
    }
  });
});
