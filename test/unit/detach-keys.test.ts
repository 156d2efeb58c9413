import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DetachKeyFilter, parseDetachKeys } from '../../src/api/detach-keys.js';

describe('detach keys', () => {
  test('parses Docker\'s key names', () => {
    assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')!], [0x10, 0x11]);
    assert.deepEqual([...parseDetachKeys('ctrl-x,y')!], [0x18, 0x79]);
    assert.deepEqual([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-_,DEL')!], [0, 27, 31, 127]);
    assert.equal(parseDetachKeys('ctrl-1'), undefined);
    assert.equal(parseDetachKeys('ctrl-P'), undefined);
    assert.equal(parseDetachKeys('foo'), undefined);
  });

  test('the sequence is swallowed and ends the stream; other bytes pass, held ones too when the sequence breaks', () => {
    const keys = parseDetachKeys('ctrl-p,ctrl-q')!;
    const f = new DetachKeyFilter(keys);
    assert.equal(f.push(Buffer.from('ls\r')).toString(), 'ls\r');
    // ctrl-p alone is held back until the next byte decides.
    assert.equal(f.push(Buffer.from([0x10])).length, 0);
    assert.deepEqual([...f.push(Buffer.from('a'))], [0x10, 0x61]);
    assert.deepEqual([...f.push(Buffer.from([0x10, 0x10]))], [0x10]);
    assert.equal(f.detached, false);
    assert.deepEqual([...f.push(Buffer.from([0x11, 0x61]))], []);
    assert.equal(f.detached, true);
    assert.equal(f.push(Buffer.from('more')).length, 0);

    const g = new DetachKeyFilter(keys);
    assert.equal(g.push(Buffer.from([0x61, 0x62, 0x10, 0x11, 0x63])).toString(), 'ab');
    assert.equal(g.detached, true);
  });
});
