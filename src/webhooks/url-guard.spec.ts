import { BlockedAddressError, guardedLookup, isBlockedAddress, urlRefusal, urlShapeProblem } from './url-guard';

describe('webhook URL guard', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '::',
    '::1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:10.1.2.3',
    '100.64.0.1',
    '224.0.0.1',
    // IPv4-mapped in hex, IPv4-compatible and IPv4-translated forms of loopback and metadata
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '::7f00:1',
    '::ffff:0:7f00:1',
    // 6to4 (2002:7f00:1:: embeds 127.0.0.1), NAT64 well-known and local-use, site-local, Teredo
    '2002::1',
    '2002:7f00:1::1',
    '2002:a9fe:a9fe::1',
    '64:ff9b::7f00:1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::1',
    '64:ff9b:1:ffff::1',
    'fec0::1',
    'feff:ffff::1',
    '2001:0:4136:e378::1',
    '100::1',
    '2001:db8::1',
    '192.0.2.1',
    '198.51.100.1',
    '203.0.113.1',
    '192.88.99.1',
    '255.255.255.255',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '172.32.0.1',
    '172.15.255.255',
    '192.169.0.1',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    '1.1.1.1',
    // Just outside the blocked IPv6 prefixes
    '2003::1',
    '64:ff9b:2::1',
    '64:ff9a:ffff::1',
    'fe7f::1',
    '2001:1::1',
    '2606:4700:4700::1111',
  ])('accepts %s', (address) => {
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
    expect(await urlRefusal('http://[::ffff:127.0.0.1]/x', false)).toBe("The URL's host ::ffff:7f00:1 is not a public address");
    expect(await urlRefusal('http://[::ffff:7f00:1]/x', false)).toMatch(/not a public address/);
    expect(await urlRefusal('http://[2002:7f00:1::1]/x', false)).toMatch(/not a public address/);
    expect(await urlRefusal('http://[64:ff9b::a9fe:a9fe]/x', false)).toMatch(/not a public address/);
    expect(await urlRefusal('http://[fec0::1]/x', false)).toMatch(/not a public address/);
    expect(await urlRefusal('http://8.8.8.8/x', false)).toBeNull();
    expect(await urlRefusal('http://127.0.0.1:9/x', true)).toBeNull();
    expect(await urlRefusal('gopher://127.0.0.1/x', true)).toMatch(/http or https/);
  });

  it('names the host and never the address it resolved to, and says the same when it does not resolve', async () => {
    const loopback = await urlRefusal('http://localhost:9/x', false);
    expect(loopback).toBe("The URL's host localhost does not resolve to a public address");
    const missing = await urlRefusal('http://no-such-host.invalid/x', false);
    expect(missing).toBe("The URL's host no-such-host.invalid does not resolve to a public address");
    for (const message of [loopback, missing]) expect(message).not.toMatch(/127\.0\.0\.1|::1|resolves to/);
  });

  it('refuses at connect time with the same message, naming only the host', async () => {
    const lookup = (host: string) => new Promise<Error | null>((resolve) => guardedLookup(host, { all: false }, (err) => resolve(err)));
    for (const host of ['localhost', 'no-such-host.invalid']) {
      const err = await lookup(host);
      expect(err).toBeInstanceOf(BlockedAddressError);
      expect(err!.message).toBe(`${host} does not resolve to a public address`);
    }
  });
});
