/*
 * cli: the phivault command and its subcommands, one file each. Each
 * command returns the process exit status: 0 success, 1 failure, 2 usage.
 * Messages for people go to stderr (stdout carries only a command's
 * result); nothing printed ever holds personal data.
 */
#ifndef PV_CLI_H
#define PV_CLI_H

#include <stdint.h>

int pv_cmd_init(int argc, char **argv);
int pv_cmd_serve(int argc, char **argv);
int pv_cmd_policy_check(int argc, char **argv);
int pv_cmd_audit_verify(int argc, char **argv);
int pv_cmd_routes(int argc, char **argv);
int pv_cmd_problems(int argc, char **argv);
int pv_cmd_sms_setup(int argc, char **argv);
int pv_cmd_sweep(int argc, char **argv);
int pv_cmd_backup(int argc, char **argv);
int pv_cmd_restore(int argc, char **argv);
int pv_cmd_keys_rotate(int argc, char **argv);
int pv_cmd_keys_check(int argc, char **argv);
int pv_cmd_notice(int argc, char **argv);

struct pv_vault;
/* Open the data directory's vault, printing what went wrong; 0 or the error. */
int pv_cli_vault_open(const char *dir, struct pv_vault **out);

/* A progress bar on stderr when it is a terminal; silent otherwise. */
struct pv_progress {
    const char *label;
    int tty;
    int64_t last_ms;
};

void pv_progress_start(struct pv_progress *p, const char *label);
void pv_progress_update(struct pv_progress *p, int64_t done, int64_t total);
void pv_progress_end(struct pv_progress *p);

/* Start-up common to every command: libsodium, no core dumps, wiping JSON memory. */
int pv_cli_setup(void);

#endif
