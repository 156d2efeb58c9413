import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandText } from '../../src/engine/containers/views.js';

test('commandText quotes only the arguments that contain a space, as docker ps shows them', () => {
  assert.equal(commandText('sh', ['-c', 'exit 5']), "sh -c 'exit 5'");
  assert.equal(commandText('echo', ['hi']), 'echo hi');
  assert.equal(commandText('/my prog', []), '/my prog');
});
