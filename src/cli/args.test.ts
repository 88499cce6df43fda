import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../core/errors';
import { imageShapeOption } from './args';

describe('--image-shape parsing (imageShapeOption)', () => {
  it('reads HxW, HxWxC and CxHxW, with either x and spaces around the numbers', () => {
    assert.equal(imageShapeOption(undefined, 'image-shape'), undefined);
    assert.deepEqual(imageShapeOption('28x28', 'image-shape'), [28, 28]);
    assert.deepEqual(imageShapeOption('32X32x3', 'image-shape'), [32, 32, 3]);
    assert.deepEqual(imageShapeOption(' 3 x 32 x 32 ', 'image-shape'), [3, 32, 32]);
    assert.deepEqual(imageShapeOption('8x4', 'image-shape'), [8, 4]);
  });

  it('refuses what is not two or three whole numbers, naming the flag and the value', () => {
    for (const bad of ['28', '28x', 'x28', '28x28x3x1', '28,28', '28x2.5', '-28x28', '0x28', 'abc', '']) {
      assert.throws(
        () => imageShapeOption(bad, 'image-shape'),
        (e: Error) =>
          e instanceof UsageError &&
          e.message === `--image-shape must be HxW or HxWxC in whole numbers, e.g. 28x28 or 32x32x3; got "${bad}"`,
        bad,
      );
    }
    // A flag given without a value (parseArgs would not let a string flag be a boolean, but the type allows it).
    assert.throws(() => imageShapeOption(true, 'image-shape'), /--image-shape must be HxW or HxWxC .*got "true"/);
  });

  it('refuses shapes that are not an image: a side of 1 pixel, more than 4 channels at both ends', () => {
    for (const bad of ['1x784', '784x1', '28x28x5', '5x28x28', '1x1x3']) {
      assert.throws(
        () => imageShapeOption(bad, 'image-shape'),
        (e: Error) =>
          e instanceof UsageError &&
          e.message === `--image-shape ${bad}: not an image: height and width must be at least 2 and channels (first or last) at most 4`,
        bad,
      );
    }
  });
});
