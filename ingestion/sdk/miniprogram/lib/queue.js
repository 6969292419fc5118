'use strict';

// UTF-8 size of a string, which is what the collector's byte limits count.
function utf8Bytes(text) {
  var bytes = 0;
  for (var i = 0; i < text.length; i += 1) {
    var code = text.charCodeAt(i);
    if (code < 0x80) {
      bytes += 1;
    } else if (code < 0x800) {
      bytes += 2;
    } else if (code >= 0xd800 && code <= 0xdbff) {
      // A surrogate pair is one 4-byte character.
      bytes += 4;
      i += 1;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

// The offline queue: messages waiting for the collector's 200, oldest first, copied to wx storage on
// every change so that they survive the mini-program being closed. It holds at most `maxSize`
// messages; past that the oldest are dropped and the caller is told how many.
class PersistentQueue {
  constructor(storage, key, maxSize) {
    this._storage = storage;
    this._key = key;
    this._maxSize = maxSize;
    var saved = storage.get(key);
    this._messages = Array.isArray(saved)
      ? saved.filter(function (message) {
          return message && typeof message === 'object' && typeof message.messageId === 'string';
        })
      : [];
    var overflow = this._messages.length - maxSize;
    this._droppedOnLoad = overflow > 0 ? overflow : 0;
    if (overflow > 0) {
      this._messages = this._messages.slice(overflow);
      this._persist();
    }
  }

  get size() {
    return this._messages.length;
  }

  // Messages dropped because a stored queue was larger than the cap (the cap was lowered in an update).
  takeDroppedOnLoad() {
    var dropped = this._droppedOnLoad;
    this._droppedOnLoad = 0;
    return dropped;
  }

  // Add a message; answers how many of the oldest had to be dropped to stay within the cap.
  push(message) {
    this._messages.push(message);
    var dropped = 0;
    while (this._messages.length > this._maxSize) {
      this._messages.shift();
      dropped += 1;
    }
    this._persist();
    return dropped;
  }

  // The oldest messages that fit in one request, by count and by encoded size.
  peekBatch(maxCount, maxBytes) {
    var batch = [];
    var bytes = 0;
    for (var i = 0; i < this._messages.length && batch.length < maxCount; i += 1) {
      var size = utf8Bytes(JSON.stringify(this._messages[i])) + 1;
      if (batch.length > 0 && bytes + size > maxBytes) {
        break;
      }
      batch.push(this._messages[i]);
      bytes += size;
    }
    return batch;
  }

  // Remove by messageId, not by position: the cap may have dropped some while a request was in flight.
  remove(messageIds) {
    var gone = {};
    messageIds.forEach(function (id) {
      gone[id] = true;
    });
    this._messages = this._messages.filter(function (message) {
      return !gone[message.messageId];
    });
    this._persist();
  }

  _persist() {
    return this._storage.set(this._key, this._messages);
  }
}

module.exports = { PersistentQueue: PersistentQueue, utf8Bytes: utf8Bytes };
