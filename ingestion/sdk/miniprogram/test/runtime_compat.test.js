'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var fs = require('node:fs');
var path = require('node:path');

var root = path.join(__dirname, '..');
var sources = ['index.js'].concat(
  fs.readdirSync(path.join(root, 'lib')).map(function (name) {
    return path.join('lib', name);
  })
);

function code(file) {
  // Comments may say anything; only the code has to run in WeChat.
  return fs
    .readFileSync(path.join(root, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"])\/\/.*$/gm, '$1');
}

test('the SDK needs no package: every require is a relative file in this folder', function () {
  sources.forEach(function (file) {
    var required = code(file).match(/require\(([^)]*)\)/g) || [];
    required.forEach(function (call) {
      assert.match(call, /^require\('\.\/[\w/.]+\.js'\)$/, file + ': ' + call);
    });
  });
});

test('the SDK uses no syntax newer than ES2017, which WeChat runs without a compile step', function () {
  var newer = [
    [/\?\./, 'optional chaining'],
    [/\?\?/, 'nullish coalescing'],
    [/\.\.\./, 'spread / rest (object spread is ES2018)'],
    [/\bimport\s/, 'ES modules'],
    [/\bexport\s/, 'ES modules'],
    [/\s#\w+/, 'private fields'],
    [/\bcatch\s*\{/, 'optional catch binding'],
  ];
  sources.forEach(function (file) {
    var text = code(file);
    newer.forEach(function (rule) {
      assert.doesNotMatch(text, rule[0], file + ' uses ' + rule[1]);
    });
  });
});
