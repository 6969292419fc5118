'use strict';

// An in-memory stand-in for the collector's /v1/batch, for the fake wx.request transport.
// `isUp = false` makes requests fail as if the host were unreachable; `answers` queues status codes
// (or {statusCode, header}) for the next requests; otherwise every valid batch gets 200.
function createFakeCollector(options) {
  options = options || {};
  var collector = {
    writeKey: options.writeKey || 'sl_test_key',
    isUp: true,
    answers: [],
    attempts: [],
    delivered: [],
  };
  collector.transport = function (request) {
    if (!collector.isUp) {
      return Promise.reject(new Error('request:fail errcode:-102 cronet_error_code:-102 ERR_CONNECTION_REFUSED'));
    }
    var answer = collector.answers.length ? collector.answers.shift() : 200;
    if (typeof answer === 'number') {
      answer = { statusCode: answer };
    }
    var isBatch = /\/v1\/batch$/.test(request.url) && request.method === 'POST';
    var isJson = (request.header['Content-Type'] || '').indexOf('application/json') === 0;
    if (!isBatch || !isJson) {
      answer = { statusCode: 404 };
    } else if (request.body.writeKey !== collector.writeKey) {
      answer = { statusCode: 401 };
    }
    collector.attempts.push({ request: request, statusCode: answer.statusCode });
    if (answer.statusCode === 200) {
      collector.delivered = collector.delivered.concat(request.body.batch);
    }
    var data =
      answer.statusCode === 200 ? { success: true } : { code: 'error_' + answer.statusCode, message: 'fake' };
    return Promise.resolve({ statusCode: answer.statusCode, data: data, header: answer.header || {} });
  };
  collector.deliveredIds = function () {
    return collector.delivered.map(function (message) {
      return message.messageId;
    });
  };
  collector.deliveredEvents = function () {
    return collector.delivered.map(function (message) {
      return message.type === 'track' ? message.event : message.type;
    });
  };
  return collector;
}

module.exports = { createFakeCollector: createFakeCollector };
