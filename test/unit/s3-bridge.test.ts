import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '#core/clients/s3.ts';
import { deadLetterSink, listDeadLetters, redrive } from '#tools/local/dead-letter.ts';
import { type BridgeOptions, type DeadLetterRecord, S3EventBridge } from '#tools/local/s3-bridge.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-bridge-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const upload = (key: string): S3Event =>
  ({
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: 'b' }, object: { key, eTag: 'e', size: 1 } },
      },
    ],
  }) as unknown as S3Event;

function bridge(overrides: Partial<BridgeOptions> = {}): S3EventBridge {
  return new S3EventBridge({
    functionName: 'fn',
    prefix: 'uploads/',
    retries: 2,
    backoffMs: 1,
    invoke: async () => ({ ok: true, payload: {} }),
    deadLetter: async () => {},
    log: () => {},
    ...overrides,
  });
}

/** An ObjectStore whose S3 refuses every write (as when s3rver is down). */
const brokenObjects = {
  putJson: async () => {
    throw new Error('connect ECONNREFUSED 127.0.0.1:4569');
  },
  client: {
    send: async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:4569');
    },
  },
} as unknown as ObjectStore;

describe('S3EventBridge', () => {
  it('never has more than `concurrency` invocations in flight; the rest queue and all are delivered', async () => {
    let inFlight = 0;
    let most = 0;
    const b = bridge({
      concurrency: 2,
      invoke: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight--;
        return { ok: true, payload: {} };
      },
    });
    for (let i = 0; i < 12; i++) b.accept(upload(`uploads/${i}.jpg`));
    expect(b.inFlight).toBe(2);
    await b.idle();
    expect([most, b.maxInFlight]).toEqual([2, 2]);
    expect(b.reports.filter((r) => r.outcome === 'delivered')).toHaveLength(12);
  });

  it('rejects a concurrency below 1', () => {
    expect(() => bridge({ concurrency: 0 })).toThrow('concurrency must be an integer >= 1 but is 0');
  });

  it('a re-drive (deadLetter: false) that fails every attempt is reported failed, not dead-lettered again', async () => {
    const letters: DeadLetterRecord[] = [];
    const b = bridge({
      invoke: async () => ({ ok: false, payload: { errorMessage: 'down' } }),
      deadLetter: async (r) => {
        letters.push(r);
      },
    });
    const report = await b.deliver(upload('uploads/x.jpg'), { deadLetter: false });
    expect(report).toEqual({ keys: ['uploads/x.jpg'], attempts: 3, outcome: 'failed' });
    expect(letters).toEqual([]);
  });
});

describe('dead letters', () => {
  it('when S3 refuses the record, retries, then keeps it in a local file', async () => {
    const logs: string[] = [];
    const local = join(dir, 'fallback');
    const b = bridge({
      invoke: async () => ({ ok: false, payload: { errorMessage: 'scorer down' } }),
      deadLetter: deadLetterSink({
        objects: brokenObjects,
        bucket: 'b',
        prefix: 'dead-letter/on-upload/',
        dir: local,
        attempts: 3,
        backoffMs: 1,
        log: (l) => logs.push(l),
      }),
    });
    b.accept(upload('uploads/lost.jpg'));
    await b.idle();
    const files = await readdir(local);
    expect(files).toHaveLength(1);
    const record = JSON.parse(await readFile(join(local, files[0]!), 'utf8'));
    expect(record).toMatchObject({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { Records: [{ s3: { object: { key: 'uploads/lost.jpg' } } }] },
      responsePayload: { errorMessage: 'scorer down' },
    });
    expect(logs).toEqual([
      expect.stringMatching(
        /^S3 refused the dead-letter record 3 times \(connect ECONNREFUSED .*\); kept it in /,
      ),
    ]);
  });

  it('re-drives local records through the bridge and moves the delivered ones to redriven/', async () => {
    const local = join(dir, 'redrive');
    const sink = deadLetterSink({
      objects: brokenObjects,
      bucket: 'b',
      prefix: 'p/',
      dir: local,
      attempts: 1,
      log: () => {},
    });
    const failing = bridge({ invoke: async () => ({ ok: false, payload: {} }), deadLetter: sink });
    await failing.deliver(upload('uploads/one.jpg'));
    await failing.deliver(upload('uploads/two.jpg'));
    const store = {
      objects: { client: { send: async () => ({ Contents: [] }) } } as unknown as ObjectStore,
      bucket: 'b',
      prefix: 'p/',
      dir: local,
    };
    expect(await listDeadLetters(store)).toHaveLength(2);
    // one.jpg is delivered this time, two.jpg fails again and stays
    const sent: string[] = [];
    const again = bridge({
      invoke: async (_, event) => {
        const key = (event as S3Event).Records[0]!.s3.object.key;
        sent.push(key);
        return { ok: key.endsWith('one.jpg'), payload: {} };
      },
    });
    const report = await redrive(store, again);
    expect(report.redriven).toHaveLength(1);
    expect(report.failed).toHaveLength(1);
    expect(report.redriven[0]!.to).toMatch(/\/redriven\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-.*\.json$/);
    const moved = JSON.parse(await readFile(report.redriven[0]!.to, 'utf8'));
    expect(moved.redrivenAt).toMatch(/^\d{4}-/);
    expect(moved.requestPayload.Records[0].s3.object.key).toBe('uploads/one.jpg');
    expect(await listDeadLetters(store)).toHaveLength(1);
    expect(sent.filter((k) => k.endsWith('one.jpg'))).toHaveLength(1);
  });
  it('a record whose S3 write timed out yet landed, also kept locally, is re-driven once and moved from both', async () => {
    const local = join(dir, 'twins');
    // A small S3 of the calls the store makes; `answers: false` applies a PUT and then loses its answer.
    const s3 = new Map<string, unknown>();
    const objectsOf = (answers: boolean) =>
      ({
        client: {
          send: async (command: unknown) => {
            if (command instanceof ListObjectsV2Command)
              return {
                Contents: [...s3.keys()]
                  .filter((k) => k.startsWith(command.input.Prefix!))
                  .map((Key) => ({ Key })),
              };
            if (command instanceof DeleteObjectCommand) return void s3.delete(command.input.Key!);
            throw new Error(`unexpected command ${String(command)}`);
          },
        },
        getJson: async ({ key }: { key: string }) => s3.get(key),
        putJson: async ({ key }: { key: string }, value: unknown) => {
          s3.set(key, value);
          if (!answers) throw new Error('socket timeout');
        },
      }) as unknown as ObjectStore;
    const store = { objects: objectsOf(true), bucket: 'b', prefix: 'p/', dir: local };
    const sink = deadLetterSink({
      ...store,
      objects: objectsOf(false),
      attempts: 2,
      backoffMs: 1,
      log: () => {},
    });
    await bridge({ invoke: async () => ({ ok: false, payload: {} }), deadLetter: sink }).deliver(
      upload('uploads/twin.jpg'),
    );
    const [name] = await readdir(local);
    expect([...s3.keys()]).toEqual([`p/${name}`]); // the same record in both places

    const listed = await listDeadLetters(store);
    expect(listed.map((e) => e.location)).toEqual([`s3://b/p/${name}`]);
    const sent: string[] = [];
    const again = bridge({
      invoke: async (_, event) => {
        sent.push((event as S3Event).Records[0]!.s3.object.key);
        return { ok: true, payload: {} };
      },
    });
    const report = await redrive(store, again);
    expect(sent).toEqual(['uploads/twin.jpg']);
    expect(report.redriven).toEqual([
      { from: `s3://b/p/${name}`, to: expect.stringMatching(/^s3:\/\/b\/p\/redriven\//) },
    ]);
    expect([...s3.keys()]).toEqual([expect.stringMatching(/^p\/redriven\/.*\.json$/)]);
    expect(await readdir(local)).toEqual(['redriven']);
    expect(await readdir(join(local, 'redriven'))).toEqual([expect.stringMatching(new RegExp(`-${name}$`))]);
    expect(await listDeadLetters(store)).toEqual([]);
  });
});
