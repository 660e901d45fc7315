/**
 * The shell a platform engineer copies from the deployment docs: every ```sh block of docs/DEPLOY.md and
 * docs/WORDPRESS.md, per file in document order as one script (the blocks share variables), must parse
 * (`bash -n`) and pass shellcheck (installed from Debian's archive by .ci/shellcheck-deps.sh when
 * missing). Also: the commands the docs must carry for a first deploy to work.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const DOCS = ['docs/DEPLOY.md', 'docs/WORDPRESS.md'];

/** The ```sh blocks of a Markdown text (indented ones inside list items too), dedented. */
function shellBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const re = /^( *)```sh\n([\s\S]*?)^\1```$/gm;
  for (const [, indent, body] of markdown.matchAll(re)) {
    blocks.push(
      body!
        .split('\n')
        .map((l) => l.slice(indent!.length))
        .join('\n'),
    );
  }
  return blocks;
}

const scripts: Record<string, string> = {};

beforeAll(async () => {
  for (const doc of DOCS) {
    scripts[doc] = `#!/usr/bin/env bash\n${shellBlocks(await readFile(join(REPO, doc), 'utf8')).join('\n')}`;
  }
});

describe.each(DOCS)('%s', (doc) => {
  it('has shell blocks, and they parse (bash -n)', () => {
    expect(scripts[doc]!.split('\n').length).toBeGreaterThan(5);
    const result = spawnSync('bash', ['-n'], { input: scripts[doc], encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('passes shellcheck', () => {
    const deps = spawnSync('bash', [join(REPO, '.ci/shellcheck-deps.sh')], { encoding: 'utf8' });
    expect(deps.status, deps.stderr).toBe(0);
    const result = spawnSync('shellcheck', ['--shell=bash', '--severity=style', '-'], {
      input: scripts[doc],
      encoding: 'utf8',
    });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('docs/DEPLOY.md', () => {
  it('builds single-platform amd64 images without attestations, with the region on every AWS CLI call', () => {
    const script = scripts['docs/DEPLOY.md']!;
    const builds = script.match(/docker buildx build[^\n]*(?:\\\n[^\n]*)*/g) ?? [];
    expect(builds).toHaveLength(2);
    for (const b of builds) expect(b).toMatch(/--platform linux\/amd64 --provenance=false --sbom=false/);
    expect(script).toMatch(/--repository-name mmlq-edge-scorer-gpu/);
    // Every `aws <service>` command (continuation lines joined) names the region.
    const commands = script.replace(/\\\n/g, ' ').match(/\baws (?!sts)[a-z0-9-]+ [^\n|]*/g) ?? [];
    expect(commands.length).toBeGreaterThan(15);
    for (const c of commands) expect(c, c).toMatch(/--region "\$AWS_REGION"/);
    expect(script).toMatch(/put-parameter[^\n]*--overwrite/);
  });
});
