/* main.c: phivault's entry point: the table of commands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
    const char *name, *sub;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"init", NULL, pv_cmd_init, "init --data DIR [--policy FILE]"},
    {"serve", NULL, pv_cmd_serve,
     "serve --data DIR [--listen ADDR:PORT] [--threads N] [--session-ttl SECONDS] "
     "[--log-requests] [--tls-cert FILE --tls-key FILE] [--insecure-http] [--sweep-interval "
     "SECONDS]"},
    {"policy", "check", pv_cmd_policy_check, "policy check FILE"},
    {"audit", "verify", pv_cmd_audit_verify, "audit verify --data DIR"},
    {"routes", NULL, pv_cmd_routes, "routes"},
    {"problems", NULL, pv_cmd_problems, "problems"},
    {"sms", "setup", pv_cmd_sms_setup,
     "sms setup --data DIR --url WEBHOOK_URL  (auth token on stdin)"},
    {"sweep", NULL, pv_cmd_sweep, "sweep --data DIR"},
    {"backup", NULL, pv_cmd_backup, "backup --data DIR [--keys KEYDIR] DEST"},
    {"restore", NULL, pv_cmd_restore, "restore --keys KEYDIR --data DIR BACKUP"},
    {"keys", "rotate", pv_cmd_keys_rotate, "keys rotate --data DIR"},
    {"keys", "check", pv_cmd_keys_check, "keys check --data DIR"},
    {"notice", NULL, pv_cmd_notice, "notice POLICY [--format md|html]"},
};

static int
usage(void)
{
    (void)fprintf(stderr, "usage: phivault COMMAND ...\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        (void)fprintf(stderr, "  phivault %s\n", commands[i].usage);
    return 2;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return usage();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[1], c->name) != 0)
            continue;
        if (c->sub == NULL) {
            if (pv_cli_setup() != 0)
                return 1;
            return c->run(argc - 1, argv + 1);
        }
        if (argc >= 3 && strcmp(argv[2], c->sub) == 0) {
            if (pv_cli_setup() != 0)
                return 1;
            return c->run(argc - 2, argv + 2);
        }
    }
    (void)fprintf(stderr, "phivault: unknown command '%s'\n", argv[1]);
    return usage();
}
