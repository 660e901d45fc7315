import { describe, expect, it } from 'vitest';
import {
  ImageError,
  InvalidArgumentError,
  MmlqError,
  ModelError,
  STATUS,
  toErrorPayload,
} from '#core/common/errors.ts';

describe('typed errors', () => {
  it('carry a stable code, an HTTP status and a permanent flag', () => {
    const image = new ImageError('IMAGE_TOO_MANY_BYTES', 'too big');
    expect([image.name, image.code, image.status, image.permanent]).toEqual([
      'ImageError',
      'IMAGE_TOO_MANY_BYTES',
      413,
      true,
    ]);
    const model = new ModelError('MODEL_LOAD_FAILED', 'broken');
    expect([model.name, model.status, model.permanent]).toEqual(['ModelError', 500, false]);
    expect(new InvalidArgumentError('bad').status).toBe(400);
    expect(Object.values(STATUS).every((s) => s >= 400 && s < 600)).toBe(true);
  });

  it('serialise to {code, message} and rebuild from it', () => {
    const error = new ImageError('IMAGE_CORRUPT', 'Expected a complete, valid image');
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'IMAGE_CORRUPT',
      message: 'Expected a complete, valid image',
    });
    const rebuilt = MmlqError.fromPayload(error.toJSON());
    expect([rebuilt.code, rebuilt.status, rebuilt.message]).toEqual([
      'IMAGE_CORRUPT',
      422,
      'Expected a complete, valid image',
    ]);
  });

  it('hide the message of an unexpected error behind INTERNAL', () => {
    expect(toErrorPayload(new Error('ENOENT /secret/path'))).toEqual({
      code: 'INTERNAL',
      message: 'Internal error while scoring',
    });
    expect(toErrorPayload('a string')).toEqual({ code: 'INTERNAL', message: 'Internal error while scoring' });
  });
});
