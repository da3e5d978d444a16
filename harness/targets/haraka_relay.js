'use strict'
// Haraka plugin for the relay mode of the mtpspec harness (harness/targets/haraka.sh started with
// RELAY_NEXT_HOP=127.0.0.1:PORT; harness/targets/README.md, "Relay mode"). Loaded only then.
//
// Configuration: haraka_relay.ini in Haraka's config directory,
//
//   [main]
//   domain=relay.test      mail for it and every subdomain is relayed
//   client=127.0.0.1       the one client that may relay it, without AUTH
//   host=127.0.0.1         where it goes: the harness's next hop
//   port=PORT
//
// rcpt: a recipient in `domain` or a subdomain, from `client`, is accepted and makes the
// transaction a relaying one (connection.relaying, scoped to the transaction), so that Haraka
// queues it with its own outbound (queue_outbound: its queue, retries and bounces) instead of
// the queue plugin. Any other recipient is left to the plugins after this one
// (rcpt_to.in_host_list), as without relay mode, except in a relaying transaction: there
// Haraka would take "no plugin decided" as OK (connection.rcpt_respond), an open relay, so
// another domain gets Haraka's own refusal ("550 I cannot deliver mail for <...>"), and a
// recipient of a local domain (host_list), which outbound could not deliver, a 450 asking for
// a transaction of its own; so does a relay.test recipient after a local one.
//
// get_mx: `domain` and its subdomains (the relayed copies, and the bounces to senders under
// return.relay.test) go to host:port, with no DNS lookup. Every other domain is refused
// (DENY: Haraka bounces it, and a bounce of a bounce is dropped), so no lookup is made and
// nothing leaves the host.

exports.register = function () {
    const main = this.config.get('haraka_relay.ini')?.main ?? {}
    const port = Number(main.port)
    const port_ok = Number.isInteger(port) && port >= 1 && port <= 65535
    if (!main.domain || !main.client || !main.host || !port_ok) {
        throw new Error('haraka_relay.ini: [main] needs domain, client, host and port (1..65535)')
    }
    this.relay_domain = main.domain.toLowerCase()
    this.client = main.client
    this.next_hop = { exchange: main.host, port, priority: 0 }
    this.register_hook('rcpt', 'relay_rcpt')
    this.register_hook('get_mx', 'relay_mx')
}

// true if `host` is the relay domain or one of its subdomains.
exports.is_relayed = function (host) {
    if (!host) return false
    const h = String(host).toLowerCase()
    return h === this.relay_domain || h.endsWith(`.${this.relay_domain}`)
}

// true if `host` is one of Haraka's local domains (host_list, as rcpt_to.in_host_list reads it).
exports.is_local = function (host) {
    if (!host) return false
    const h = String(host).toLowerCase()
    return this.config.get('host_list', 'list').some((d) => d.toLowerCase() === h)
}

exports.relay_rcpt = function (next, connection, params) {
    const txn = connection?.transaction
    const rcpt = params[0]
    if (!txn) return next()
    if (this.is_relayed(rcpt.host) && connection.remote.ip === this.client) {
        // rcpt_to holds this recipient already: the ones before it are the earlier ones.
        const earlier = txn.rcpt_to.slice(0, -1)
        if (earlier.some((r) => !this.is_relayed(r.host))) {
            return next(DENYSOFT, `send mail for ${this.relay_domain} in a transaction of its own`)
        }
        connection.relaying = true
        txn.notes.mtpspec_relay = true
        return next(OK)
    }
    if (!txn.notes.mtpspec_relay) return next()
    if (this.is_local(rcpt.host)) {
        return next(DENYSOFT, `send mail for ${rcpt.host} in a transaction of its own`)
    }
    return next(DENY, `I cannot deliver mail for ${rcpt.format()}`)
}

exports.relay_mx = function (next, hmail, domain) {
    if (this.is_relayed(domain)) return next(OK, { ...this.next_hop })
    return next(DENY, `no route to ${domain} on this test instance`)
}
