/*
 * http: phivault's HTTP API on libmicrohttpd.
 *
 * A thread pool with epoll; connection timeout, connection limits, per-
 * address limits and request-body limits are always set. Routes are a
 * table (routes.c) of {method, pattern, handler, auth, max_body, action};
 * one dispatch function (server.c) matches the route, enforces the limits
 * and the content type, parses JSON, authenticates, and maps every error to
 * an RFC 9457 application/problem+json answer (problem.c). Handlers are
 * thin adapters from JSON to vault calls.
 *
 * Nothing from a request's path, query, headers or body is ever logged:
 * the request log names the route pattern, the status and the time.
 */
#ifndef PV_HTTP_H
#define PV_HTTP_H

#include "vault/vault.h"

struct pv_server;

struct pv_server_config {
    const char *listen;    /* "ADDR:PORT" or "[ADDR]:PORT" */
    unsigned threads;      /* size of the thread pool */
    unsigned conn_limit;   /* connections at once */
    unsigned per_ip_limit; /* connections at once from one address */
    unsigned timeout_s;    /* idle connection timeout */
    int log_requests;      /* one log line per request */
    const char *tls_cert;  /* PEM certificate chain (its text), or NULL for plain HTTP */
    const char *tls_key;   /* PEM private key (its text), with tls_cert */
    int insecure_http;     /* allow plain HTTP on an address that is not loopback */
};

/* Defaults for every field left 0. */
void pv_server_config_defaults(struct pv_server_config *cfg);
int pv_server_start(struct pv_vault *v, const struct pv_server_config *cfg, struct pv_server **out);
/* The port actually bound (for listen ports of 0). */
unsigned pv_server_port(const struct pv_server *s);
void pv_server_stop(struct pv_server *s);

/* Whether listen ("ADDR:PORT") is a loopback address (127.0.0.0/8 or ::1); PV_EINVAL if
 * it is not an address. Plain HTTP elsewhere needs tls_cert or insecure_http. */
int pv_listen_is_loopback(const char *listen);
/* Whether this libmicrohttpd serves TLS. */
int pv_http_tls_supported(void);

/* The route table, for `phivault routes`: the i-th route's pattern, or NULL past the end. */
const char *pv_http_route(size_t i, const char **method, const char **auth);
/* The problem types, for `phivault problems`: the i-th slug, or NULL past the end. */
const char *pv_http_problem(size_t i, int *status, const char **title);

#endif
