/* cmd_backup.c: phivault backup and phivault restore. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "vault/vault.h"

int
pv_cmd_backup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"keys", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    struct pv_backup_report r;
    struct pv_vault *v = NULL;
    const char *dir = NULL, *keys = NULL, *dest;
    struct pv_buf errors;
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:k:", opts, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'k')
            keys = optarg;
        else
            return 2;
    }
    if (dir == NULL || optind != argc - 1) {
        (void)fprintf(stderr, "usage: phivault backup --data DIR [--keys KEYDIR] DEST\n");
        return 2;
    }
    dest = argv[optind];
    if (pv_cli_vault_open(dir, &v) != 0)
        return 1;
    pv_buf_init(&errors, (size_t)16 * 1024);
    rc = pv_vault_backup(v, dest, keys, &r, &errors);
    pv_vault_close(v);
    if (rc != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        (void)fprintf(stderr, "phivault: backup failed (%s); nothing was written to %s\n",
                      pv_strerror(rc), dest);
        pv_buf_fini(&errors);
        return 1;
    }
    pv_buf_fini(&errors);
    printf("backup written to %s: %lld bytes, %lld subjects\n", dest, (long long)r.bytes,
           (long long)r.subjects);
    if (keys)
        printf("key material written to %s (the previous copy there was replaced)\n", keys);
    else
        printf("key material not included: keep master.key, keys.db and audit.key apart "
               "(--keys)\n");
    return 0;
}

int
pv_cmd_restore(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"keys", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    struct pv_backup_report r;
    const char *dir = NULL, *keys = NULL;
    struct pv_buf errors;
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:k:", opts, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'k')
            keys = optarg;
        else
            return 2;
    }
    if (dir == NULL || keys == NULL || optind != argc - 1) {
        (void)fprintf(stderr, "usage: phivault restore --keys KEYDIR --data DIR BACKUP\n");
        return 2;
    }
    pv_buf_init(&errors, (size_t)16 * 1024);
    rc = pv_vault_restore(argv[optind], keys, dir, &r, &errors);
    if (rc != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        pv_buf_fini(&errors);
        return 1;
    }
    pv_buf_fini(&errors);
    printf("restored %s: %lld subjects in the backup\n", dir, (long long)r.subjects);
    printf("audit log intact: %lld entries\n", (long long)r.entries);
    printf("subjects erased since the backup (data key destroyed): %lld\n", (long long)r.erased);
    printf("data keys carried over: %lld\n", (long long)r.keys_kept);
    return 0;
}
