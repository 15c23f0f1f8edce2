/* cmd_serve.c: phivault serve: the server until SIGINT or SIGTERM. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "http/http.h"

int
pv_cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"session-ttl", required_argument, NULL, 's'},
        {"policy", required_argument, NULL, 'p'},
        {"log-requests", no_argument, NULL, 'r'},
        {"sweep-interval", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    struct pv_vault_config vc = {NULL, NULL, 0};
    struct pv_server_config sc = {0};
    struct pv_server *srv = NULL;
    struct pv_vault *v = NULL;
    struct pv_buf errors;
    char port[16];
    sigset_t set;
    int64_t n, sweep_s = 3600;
    int ch, sig, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:l:t:s:p:rw:", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            vc.dir = optarg;
            break;
        case 'l':
            sc.listen = optarg;
            break;
        case 'p':
            vc.policy_path = optarg;
            break;
        case 'r':
            sc.log_requests = 1;
            break;
        case 't':
            if (pv_parse_i64(optarg, 1, 1024, &n) != 0) {
                fprintf(stderr, "phivault: --threads takes 1 to 1024\n");
                return 2;
            }
            sc.threads = (unsigned)n;
            break;
        case 's':
            if (pv_parse_i64(optarg, 1, 30 * 86400, &n) != 0) {
                fprintf(stderr, "phivault: --session-ttl takes 1 to 2592000 seconds\n");
                return 2;
            }
            vc.session_ttl_s = n;
            break;
        case 'w':
            if (pv_parse_i64(optarg, 0, 30 * 86400, &sweep_s) != 0) {
                fprintf(stderr, "phivault: --sweep-interval takes 0 (never) to 2592000 seconds\n");
                return 2;
            }
            break;
        default:
            return 2;
        }
    }
    if (vc.dir == NULL || optind != argc) {
        fprintf(stderr, "usage: phivault serve --data DIR [--listen ADDR:PORT] [--threads N] "
                        "[--session-ttl SECONDS] [--log-requests] [--sweep-interval SECONDS]\n");
        return 2;
    }
    /* Every thread created from here on leaves these signals to sigwait(). */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    pv_buf_init(&errors, 64 * 1024);
    rc = pv_vault_open(&vc, &v, &errors);
    if (rc != 0) {
        fputs(errors.data ? errors.data : "", stderr);
        fprintf(stderr, "phivault: cannot open %s (%s)\n", vc.dir, pv_strerror(rc));
        pv_buf_fini(&errors);
        return 1;
    }
    pv_buf_fini(&errors);
    pv_server_config_defaults(&sc);
    if ((rc = pv_server_start(v, &sc, &srv)) != 0) {
        fprintf(stderr, "phivault: cannot listen on %s\n", sc.listen);
        pv_vault_close(v);
        return 1;
    }
    if ((rc = pv_vault_maintenance_start(v, sweep_s)) != 0) {
        fprintf(stderr, "phivault: cannot start the maintenance thread (%s)\n", pv_strerror(rc));
        pv_server_stop(srv);
        pv_vault_close(v);
        return 1;
    }
    snprintf(port, sizeof port, "%u", pv_server_port(srv));
    pv_log(PV_LOG_INFO, "server.listening", "listen", sc.listen, "port", port, "policy",
           pv_vault_policy(v)->version, NULL);
    sigwait(&set, &sig);
    pv_log(PV_LOG_INFO, "server.stopping", NULL);
    pv_vault_maintenance_stop(v);
    pv_server_stop(srv);
    pv_vault_close(v);
    pv_log(PV_LOG_INFO, "server.stopped", NULL);
    return 0;
}
