'use strict'
// Haraka queue plugin for the mtpspec harness (harness/targets/haraka.sh): one durable JSON
// file per accepted message.
//
// Configuration: haraka_spool.ini in Haraka's config directory, `dir=PATH` (the spool
// directory, created when missing). Each message becomes PATH/<seq:08d>.json with
//
//   {"seq": 1, "id": "<transaction uuid>", "mail_from": "a@b" (or "" for <>),
//    "rcpt_tos": ["c@d"], "received_at": 1700000000.123,
//    "data": "<base64: the message as Haraka hands it to any queue plugin>"}
//
// the record format of aiosmtpd_handler.py, whose `mailbox` mode prints the harness's mailbox
// JSON from it. The file is written under a hidden temporary name, fsync'd, renamed into place
// and the directory fsync'd; only then does the plugin answer OK, and Haraka replies
// "250 Message Queued (<uuid>)", so a 250 means the message is on disk. A failed write gets
// DENYSOFT (Haraka's 450).
//
// "data" is transaction.message_stream piped with its defaults (CRLF line ends, the stored
// dot-stuffing removed): Haraka's own header section (its parsed copy, with the Received:
// field it prepends at DATA, "... with ESMTP id <uuid>", on top) and the body lines as
// received. Nothing is taken out.

const fs = require('node:fs')
const path = require('node:path')
const { Writable } = require('node:stream')

const SEQ_FILE = /^(\d{8})\.json$/

exports.register = function () {
    const cfg = this.config.get('haraka_spool.ini')
    const dir = cfg?.main?.dir
    if (!dir) throw new Error('haraka_spool.ini: no dir= setting')
    this.spool_dir = path.resolve(dir)
    fs.mkdirSync(this.spool_dir, { recursive: true })
    this.next_seq = 1
    this.register_hook('queue', 'spool')
}

// The highest sequence number on disk plus one, and never less than what this process already
// handed out (`clear` may empty the directory while Haraka runs).
exports.take_seq = function () {
    let highest = 0
    for (const name of fs.readdirSync(this.spool_dir)) {
        const m = SEQ_FILE.exec(name)
        if (m) highest = Math.max(highest, Number(m[1]))
    }
    const seq = Math.max(this.next_seq, highest + 1)
    this.next_seq = seq + 1
    return seq
}

// user@host of an envelope address, "" for the null path. `address` is a string getter in
// @haraka/email-address 3.x (and a callable string where Haraka wraps it for legacy plugins).
function addr_text(a) {
    if (!a || a.isNull()) return ''
    return String(a.address)
}

// JSON with every non-ASCII UTF-16 code unit as a \uXXXX escape (SMTPUTF8 addresses), so the
// file is plain ASCII whatever the addresses hold.
function ascii_json(value) {
    return JSON.stringify(value).replace(
        /[\u007f-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    )
}

function write_durably(dir, name, payload) {
    const final = path.join(dir, name)
    const tmp = path.join(dir, `.tmp-${name}-${process.pid}`)
    const fd = fs.openSync(tmp, 'wx', 0o644)
    try {
        let off = 0
        while (off < payload.length) off += fs.writeSync(fd, payload, off)
        fs.fsyncSync(fd)
    } finally {
        fs.closeSync(fd)
    }
    fs.renameSync(tmp, final)
    const dfd = fs.openSync(dir, 'r')
    try {
        fs.fsyncSync(dfd)
    } finally {
        fs.closeSync(dfd)
    }
}

exports.spool = function (next, connection) {
    const plugin = this
    const txn = connection.transaction
    if (!txn) return next()
    const chunks = []
    const sink = new Writable({
        write(chunk, _encoding, done) {
            chunks.push(Buffer.from(chunk))
            done()
        },
    })
    let answered = false
    const answer = (...args) => {
        if (answered) return
        answered = true
        next(...args)
    }
    sink.on('error', (err) => {
        connection.logerror(plugin, `reading the message: ${err.message}`)
        answer(DENYSOFT, 'cannot store message')
    })
    sink.on('finish', () => {
        try {
            const stored = Buffer.concat(chunks)
            const seq = plugin.take_seq()
            const record = {
                seq,
                id: txn.uuid,
                mail_from: addr_text(txn.mail_from),
                rcpt_tos: txn.rcpt_to.map(addr_text),
                received_at: Date.now() / 1000,
                data: stored.toString('base64'),
            }
            const name = `${String(seq).padStart(8, '0')}.json`
            write_durably(plugin.spool_dir, name, Buffer.from(ascii_json(record), 'ascii'))
            connection.loginfo(plugin, `stored ${name} (${stored.length} bytes)`)
        } catch (err) {
            connection.logerror(plugin, `cannot store message: ${err.message}`)
            return answer(DENYSOFT, 'cannot store message')
        }
        answer(OK)
    })
    // The defaults: CRLF line ends, the stored dot-stuffing removed, no final ".".
    txn.message_stream.pipe(sink)
}
