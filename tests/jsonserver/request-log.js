// json-server middleware (-m): appends one JSON line per request it
// receives, {"method", "url", "headers": [[name, value], ...]}, to the file
// named by PDS_JSONSERVER_LOG, before json-server answers. The end-to-end
// tests read it to tell what reached the back end (tests/e2e/pds_jsonserver.py).
'use strict';
const fs = require('fs');

const log = process.env.PDS_JSONSERVER_LOG;

module.exports = (req, res, next) => {
  if (log) {
    const headers = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
      headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    fs.appendFileSync(log, JSON.stringify({ method: req.method, url: req.originalUrl,
                                            headers }) + '\n');
  }
  next();
};
