'use strict';

// The SDK version, sent as context.library.version on every message.
module.exports = { NAME: 'shoploop-miniprogram', VERSION: '0.1.0' };
