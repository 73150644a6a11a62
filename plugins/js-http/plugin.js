// js-http: a livekit:analytics sink plugin written in JavaScript.
//
// POSTs each batch to one URL, through the host's outgoing HTTP (wasi:http, which
// the host links only for the hosts listed in the plugin's `grants.http`):
//   format "ndjson" (default): one line per document, the document as the host
//     made it with a first field "_collection": "events" | "stats";
//   format "bulk": the Elasticsearch / OpenSearch `_bulk` API, a `create` action
//     per document with `_id` = the document id, into `events_index` / `stats_index`,
//     and per-item results read back (409 = already stored).
//
// Outcome of a request: 2xx → stored; network error, 408, 429, 3xx, 5xx → the whole
// batch is retried; any other 4xx → the batch is rejected for good.

import { log } from 'livekit:analytics/log@0.1.1';

const KNOWN = ['url', 'format', 'events_index', 'stats_index', 'content_type'];
let settings = null;

function fail(tag, val) {
  // A plain (non-Error) value thrown from an export becomes its `err` result.
  throw { tag, val };
}

export function initializeDatabase(config) {
  const s = {
    url: '',
    format: 'ndjson',
    eventsIndex: 'livekit-events',
    statsIndex: 'livekit-stats',
    contentType: '',
    headers: {},
  };
  for (const [key, value] of config) {
    if (key.startsWith('header.')) {
      const name = key.slice('header.'.length);
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw `config ${key}: bad header name`;
      s.headers[name] = value;
      continue;
    }
    switch (key) {
      case 'url':
        if (!/^https?:\/\/[^\s/]+/.test(value)) throw `config url: ${JSON.stringify(value)} is not an http(s) URL`;
        s.url = value;
        break;
      case 'format':
        if (value !== 'ndjson' && value !== 'bulk') throw `config format: ${JSON.stringify(value)} is not ndjson or bulk`;
        s.format = value;
        break;
      case 'events_index': s.eventsIndex = value; break;
      case 'stats_index': s.statsIndex = value; break;
      case 'content_type': s.contentType = value; break;
      default:
        throw `unknown config key ${JSON.stringify(key)} (known: ${KNOWN.join(', ')}, header.<Name>)`;
    }
  }
  if (!s.url) throw 'config url: required';
  if (!s.contentType) s.contentType = 'application/x-ndjson';
  settings = s;
  log('info', `posting batches as ${s.format} to ${s.url}`);
}

// Each item of the batch, in order: events first, then stats.
function items(events, stats) {
  const out = [];
  events.forEach((e, index) => out.push({ collection: 'events', index, id: e.id, json: e.json }));
  stats.forEach((s, index) => out.push({ collection: 'stats', index, id: s.id, json: s.json }));
  return out;
}

function ndjson(list) {
  let body = '';
  for (const it of list) {
    const rest = it.json.trim().slice(1); // drop the opening brace
    const sep = rest.trimStart().startsWith('}') ? '' : ',';
    body += `{"_collection":"${it.collection}"${sep}${rest}\n`;
  }
  return body;
}

function bulk(list, s) {
  let body = '';
  for (const it of list) {
    const doc = JSON.parse(it.json);
    delete doc._id; // a metadata field: given in the action line instead
    const index = it.collection === 'events' ? s.eventsIndex : s.statsIndex;
    body += JSON.stringify({ create: { _index: index, _id: it.id } }) + '\n';
    body += JSON.stringify(doc) + '\n';
  }
  return body;
}

function retryable(status) {
  return status === 408 || status === 429 || status >= 500 || status < 200 || (status >= 300 && status < 400);
}

export async function sendBatch(events, stats) {
  const s = settings;
  if (!s) fail('retry', 'send-batch before initialize-database');
  const list = items(events, stats);
  if (list.length === 0) return;

  const failures = [];
  let body;
  try {
    body = s.format === 'bulk' ? bulk(list, s) : ndjson(list);
  } catch (e) {
    // A document that is not valid JSON: find it and drop it alone.
    const good = [];
    for (const it of list) {
      try { JSON.parse(it.json); good.push(it); } catch (err) {
        failures.push({ collection: it.collection, index: it.index, disposition: 'drop', message: `invalid JSON: ${err}` });
      }
    }
    if (good.length === 0) fail('partial', failures);
    list.length = 0; list.push(...good);
    body = s.format === 'bulk' ? bulk(list, s) : ndjson(list);
  }

  let response;
  try {
    response = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': s.contentType, ...s.headers },
      body,
    });
  } catch (e) {
    const message = `POST ${s.url}: ${e && e.message ? e.message : e}`;
    log('warn', message);
    fail('retry', message);
  }
  const text = await response.text();
  const status = response.status;
  if (status < 200 || status >= 300) {
    const message = `POST ${s.url}: HTTP ${status} ${text.slice(0, 200)}`;
    log('warn', message);
    if (retryable(status)) fail('retry', message);
    fail('rejected', message);
  }

  if (s.format === 'bulk') {
    let answer;
    try { answer = JSON.parse(text); } catch (e) { answer = null; }
    if (answer && answer.errors && Array.isArray(answer.items)) {
      answer.items.forEach((entry, i) => {
        const r = entry.create || entry.index || Object.values(entry)[0] || {};
        const it = list[i];
        if (!it || (r.status >= 200 && r.status < 300)) return;
        const reason = r.error ? (r.error.reason || r.error.type || JSON.stringify(r.error)) : `status ${r.status}`;
        const disposition = r.status === 409 ? 'duplicate' : retryable(r.status) ? 'retry' : 'drop';
        failures.push({ collection: it.collection, index: it.index, disposition, message: String(reason).slice(0, 300) });
      });
    }
  }
  if (failures.length > 0) {
    const notDup = failures.filter((f) => f.disposition !== 'duplicate').length;
    if (notDup > 0) log('warn', `${notDup} of ${events.length + stats.length} items not stored: ${failures.find((f) => f.disposition !== 'duplicate').message}`);
    fail('partial', failures);
  }
  log('debug', `posted ${list.length} documents (${body.length} bytes): HTTP ${status}`);
}
