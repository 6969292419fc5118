'use strict';

// Random ids from an injectable source of randomness (Math.random in WeChat, a seeded one in tests).

function hex(random, count) {
  var out = '';
  for (var i = 0; i < count; i += 1) {
    out += Math.floor(random() * 16).toString(16);
  }
  return out;
}

// An RFC 4122 version-4 uuid: 4 in the version nibble, 8/9/a/b in the variant nibble.
function uuid4(random) {
  var variant = (8 + Math.floor(random() * 4)).toString(16);
  return (
    hex(random, 8) + '-' + hex(random, 4) + '-4' + hex(random, 3) + '-' + variant + hex(random, 3) + '-' + hex(random, 12)
  );
}

// Share ids travel inside shared paths, which WeChat limits in length, so they are shorter than a uuid.
function shareId(random) {
  return hex(random, 16);
}

module.exports = { uuid4: uuid4, shareId: shareId };
