import { preferredWait } from './prefer';

describe('preferredWait', () => {
  it.each([
    ['wait=10', 10],
    ['WAIT = 5', 5],
    ['respond-async, wait=30', 30],
    ['wait="7"', 7],
    ['wait=60', 60],
    ['wait=61', 60],
    ['wait=99999', 60],
    ['wait=1;foo=bar', 1],
  ])('%s → %s', (header, seconds) => {
    expect(preferredWait(header)).toBe(seconds);
  });

  it.each([undefined, '', 'wait=0', 'wait=-3', 'wait=abc', 'wait=1.5', 'return=minimal', 'waiting=5'])('%s → no wait', (header) => {
    expect(preferredWait(header)).toBeNull();
  });

  it('reads repeated headers', () => {
    expect(preferredWait(['return=minimal', 'wait=3'])).toBe(3);
  });
});
