import { ifNoneMatchHits } from './etag';

describe('ifNoneMatchHits', () => {
  const etag = '"abc-1"';
  it.each([
    [undefined, false],
    ['', false],
    ['"abc-1"', true],
    ['W/"abc-1"', true],
    ['"x", "abc-1"', true],
    ['"x","y"', false],
    ['*', true],
    ['abc-1', false],
  ])('%p -> %p', (header, expected) => {
    expect(ifNoneMatchHits(header, etag)).toBe(expected);
  });
});
