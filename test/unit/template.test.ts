import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFormat, sprintf, TemplateError } from '../../src/cli/render/template.js';
import { renderList } from '../../src/cli/render/format.js';

const data = {
  Name: 'web',
  Tags: ['a', 'b'],
  Labels: { 'com.example.x': 'one', z: 'two' },
  Count: 3,
  Empty: '',
  Nested: { A: { B: 'deep' } },
  Config: { Cmd: ['sh', '-c', 'echo hi'], Env: null },
};

// docker-style formats and what Go's text/template prints for them
const cases: [string, string][] = [
  ['{{.Name}}', 'web'],
  ['{{.Nested.A.B}}', 'deep'],
  ['{{json .Tags}}', '["a","b"]'],
  ['{{json .Config}}', '{"Cmd":["sh","-c","echo hi"],"Env":null}'],
  ['{{join .Tags ","}}', 'a,b'],
  ['{{upper .Name}} {{lower "ABC"}} {{title "hello world"}}', 'WEB abc Hello World'],
  ['{{split "a:b:c" ":"}}', '[a b c]'],
  ['{{index .Labels "com.example.x"}}', 'one'],
  ['{{len .Tags}}', '2'],
  ['{{.Config.Cmd}}', '[sh -c echo hi]'],
  ['{{.Labels}}', 'map[com.example.x:one z:two]'],
  ['{{.Missing}}', '<no value>'],
  ['{{.Config.Env}}', '<no value>'],
  ['{{if eq .Name "web"}}yes{{else}}no{{end}}', 'yes'],
  ['{{if ne .Name "web"}}yes{{else if .Count}}count{{end}}', 'count'],
  ['{{if and .Name (not .Empty)}}ok{{end}}', 'ok'],
  ['{{or .Empty "fallback"}}', 'fallback'],
  ['{{range .Tags}}[{{.}}]{{end}}', '[a][b]'],
  ['{{range $i, $t := .Tags}}{{$i}}={{$t}};{{end}}', '0=a;1=b;'],
  ['{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}', 'com.example.x=one z=two '],
  ['{{range .Config.Env}}x{{else}}none{{end}}', 'none'],
  ['{{with .Nested.A}}{{.B}}{{end}}', 'deep'],
  ['{{with .Missing}}x{{else}}absent{{end}}', 'absent'],
  ['a {{- " b " -}} c', 'a b c'],
  ['{{- .Name }}\n', 'web\n'],
  ['{{.Name | printf "%s!"}}', 'web!'],
  ['{{printf "%-5s|%3d|%q|%v|%05.1f" .Name .Count .Name .Tags 3.14159}}', 'web  |  3|"web"|[a b]|003.1'],
  ['{{println .Name .Count}}', 'web 3\n'],
  ['{{$x := .Name}}{{$x}}', 'web'],
  ['{{/* comment */}}{{.Count}}', '3'],
  ['{{pad .Name 1 2}}|', ' web  |'],
  ['{{truncate .Name 2}}', 'we'],
  ['{{(index .Config.Cmd 2)}}', 'echo hi'],
  ['{{len (index .Config.Cmd 2)}}', '7'],
];

for (const [format, want] of cases) {
  test(`template ${JSON.stringify(format)}`, () => {
    assert.equal(parseFormat(format).execute(data), want);
  });
}

test('parse errors carry docker\'s prefix', () => {
  assert.throws(() => parseFormat('{{.Name'), /^TemplateError: template parsing error: template: :1: unclosed action$/);
  assert.throws(() => parseFormat('{{nope .X}}'), (e: unknown) => e instanceof TemplateError && /function "nope" not defined/.test(e.message));
  assert.throws(() => parseFormat('{{if .X}}'), /unexpected EOF/);
});

test('strict contexts reject unknown fields like Go structs', () => {
  class Row {
    readonly templateTypeName = '*formatter.imageContext';
    get ID(): string {
      return 'abc';
    }
  }
  assert.equal(parseFormat('{{.ID}}').execute(new Row()), 'abc');
  assert.throws(() => parseFormat('{{.Foo}}').execute(new Row()), /:1:2: executing "" at <\.Foo>: can't evaluate field Foo in type \*formatter\.imageContext/);
});

test('sprintf handles missing and extra operands as Go does', () => {
  assert.equal(sprintf('%s %s', 'a'), 'a %!s(MISSING)');
  assert.equal(sprintf('%d', 'x'), '%!d(string=x)');
  assert.equal(sprintf('%x', 255), 'ff');
  assert.equal(sprintf('100%%'), '100%');
});

test('table format: header row from field names, tabwriter alignment', () => {
  const rows = [
    { Repository: 'busybox', Tag: 'latest', ID: '6d3e4188a38a' },
    { Repository: '127.0.0.1:5000/busybox', Tag: 'spy', ID: '6d3e4188a38a' },
  ];
  const out = renderList('table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}', rows, { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID' });
  assert.equal(
    out,
    'REPOSITORY               TAG       IMAGE ID\n' +
      'busybox                  latest    6d3e4188a38a\n' +
      '127.0.0.1:5000/busybox   spy       6d3e4188a38a\n',
  );
});

test('table format with no rows still prints the header; json format is one object per line', () => {
  assert.equal(renderList('table {{.ID}}\\t{{.Tag}}', [], { ID: 'IMAGE ID', Tag: 'TAG' }), 'IMAGE ID   TAG\n');
  assert.equal(renderList('json', [{ A: 1 }, { A: 2 }], {}), '{"A":1}\n{"A":2}\n');
});
