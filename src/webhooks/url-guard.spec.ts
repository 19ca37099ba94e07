import { isBlockedAddress, urlRefusal, urlShapeProblem } from './url-guard';

describe('webhook URL guard', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '0.0.0.0',
    '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.1.2.3', '100.64.0.1', '224.0.0.1',
  ])('refuses %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '172.32.0.1', '172.15.255.255', '192.169.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8', '1.1.1.1'])('accepts %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('takes http and https only, without credentials', () => {
    expect(urlShapeProblem('https://example.com/hook')).toBeNull();
    expect(urlShapeProblem('http://example.com:8080/hook')).toBeNull();
    expect(urlShapeProblem('ftp://example.com/')).toMatch(/http or https/);
    expect(urlShapeProblem('file:///etc/passwd')).toMatch(/http or https/);
    expect(urlShapeProblem('https://user:pw@example.com/')).toMatch(/credentials/);
    expect(urlShapeProblem('not a url')).toMatch(/not valid/);
  });

  it('refuses literal and resolved private hosts unless allowed', async () => {
    expect(await urlRefusal('http://127.0.0.1:9/x', false)).toMatch(/not a public address/);
    expect(await urlRefusal('http://[::1]/x', false)).toMatch(/not a public address/);
    expect(await urlRefusal('http://169.254.169.254/latest/meta-data', false)).toMatch(/not a public address/);
    expect(await urlRefusal('http://localhost:9/x', false)).toMatch(/resolves to/);
    expect(await urlRefusal('http://8.8.8.8/x', false)).toBeNull();
    expect(await urlRefusal('http://127.0.0.1:9/x', true)).toBeNull();
    expect(await urlRefusal('gopher://127.0.0.1/x', true)).toMatch(/http or https/);
  });
});
