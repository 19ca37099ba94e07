import { validate } from 'class-validator';
import { IsTaskTag, parseTag, parseTags } from './task-tags';

describe('parseTag', () => {
  it('splits key:value at the first colon', () => {
    expect(parseTag('priority:high')).toEqual({ tag_type: 'priority', tag: 'high' });
    expect(parseTag('url:https://example.com/a')).toEqual({ tag_type: 'url', tag: 'https://example.com/a' });
  });

  it.each([['priority'], [':high'], ['priority:'], [':'], [''], [`${'k'.repeat(101)}:v`], [`k:${'v'.repeat(201)}`], [42], [null], [['a:b']]])(
    'refuses %p',
    (value) => {
      expect(parseTag(value)).toBeNull();
    },
  );

  it('accepts the longest key and value the columns hold', () => {
    expect(parseTag(`${'k'.repeat(100)}:${'v'.repeat(200)}`)).toEqual({ tag_type: 'k'.repeat(100), tag: 'v'.repeat(200) });
  });

  it('accepts a tag object as GET returns it, ignoring its other fields', () => {
    expect(parseTag({ id: 'x', tag_type: 'review', tag: 'approved', status: 'active' })).toEqual({ tag_type: 'review', tag: 'approved' });
    expect(parseTag({ tag_type: 'review' })).toBeNull();
    expect(parseTag({ tag_type: '', tag: 'approved' })).toBeNull();
  });
});

describe('parseTags', () => {
  it('drops repeats, keeping first-occurrence order, and treats both forms alike', () => {
    expect(parseTags(['b:2', 'a:1', 'b:2', { tag_type: 'a', tag: '1' }, 'a:2'])).toEqual([
      { tag_type: 'b', tag: '2' },
      { tag_type: 'a', tag: '1' },
      { tag_type: 'a', tag: '2' },
    ]);
  });

  it('keeps tags whose joined text would collide apart', () => {
    expect(parseTags(['a:b:c', { tag_type: 'a:b', tag: 'c' }])).toHaveLength(2);
  });

  it('throws on a tag that skipped validation', () => {
    expect(() => parseTags(['nocolon'])).toThrow();
  });
});

describe('@IsTaskTag', () => {
  class Body {
    @IsTaskTag({ each: true })
    tags: unknown[];
  }

  it('names the field and the expected form', async () => {
    const body = Object.assign(new Body(), { tags: ['ok:1', 'bad'] });
    const [error] = await validate(body);
    expect(error.property).toBe('tags');
    expect(error.constraints?.isTaskTag).toContain("each value in tags must be 'key:value'");
    expect(await validate(Object.assign(new Body(), { tags: ['ok:1'] }))).toEqual([]);
  });
});
