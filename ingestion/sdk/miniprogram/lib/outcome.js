'use strict';

// What a collector answer means for the batch that was sent, as the Segment clients read it:
// only 200 is success; 429, 5xx and anything unexpected may succeed later; any other 4xx never will.
var SENT = 'sent';
var RETRY = 'retry';
var REJECTED = 'rejected';

function outcomeOf(statusCode) {
  if (statusCode === 200) {
    return SENT;
  }
  if (statusCode === 429 || statusCode >= 500) {
    return RETRY;
  }
  if (statusCode >= 400 && statusCode < 500) {
    return REJECTED;
  }
  return RETRY;
}

module.exports = { SENT: SENT, RETRY: RETRY, REJECTED: REJECTED, outcomeOf: outcomeOf };
