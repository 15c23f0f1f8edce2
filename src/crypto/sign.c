/* sign.c: Ed25519 signing of audit checkpoints, and secret files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"

struct pv_signer {
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

int
pv_secret_file_write(const char *path, const void *p, size_t n)
{
    const char *c = p;
    ssize_t w;
    int fd, rc = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? PV_EEXIST : PV_EIO;
    while (n > 0) {
        w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = PV_EIO;
            break;
        }
        c += w;
        n -= (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = PV_EIO;
    if (close(fd) != 0 && rc == 0)
        rc = PV_EIO;
    if (rc != 0)
        unlink(path);
    return rc;
}

int
pv_secret_file_read(const char *path, unsigned char *out, size_t cap, size_t *len)
{
    struct stat st;
    size_t got = 0;
    ssize_t r;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? PV_ENOTFOUND : PV_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
        (size_t)st.st_size > cap) {
        close(fd);
        return PV_EINVAL;
    }
    while (got < cap) {
        r = read(fd, out + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return PV_EIO;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return 0;
}

int
pv_signer_create(const char *secret_path, const char *public_path)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 2];
    FILE *f;
    int rc;

    crypto_sign_keypair(pk, sk);
    rc = pv_secret_file_write(secret_path, sk, sizeof sk);
    sodium_memzero(sk, sizeof sk);
    if (rc != 0)
        return rc;
    pv_hex(pk, sizeof pk, hex);
    f = fopen(public_path, "wx");
    if (f == NULL)
        return PV_EIO;
    if (fprintf(f, "%s\n", hex) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        (void)fclose(f);
        return PV_EIO;
    }
    return fclose(f) == 0 ? 0 : PV_EIO;
}

int
pv_signer_load(const char *secret_path, struct pv_signer **out)
{
    struct pv_signer *s = sodium_malloc(sizeof *s);
    size_t len;
    int rc;

    if (s == NULL)
        return PV_ENOMEM;
    rc = pv_secret_file_read(secret_path, s->sk, sizeof s->sk, &len);
    if (rc == 0 && len != sizeof s->sk)
        rc = PV_EINVAL;
    if (rc != 0) {
        sodium_free(s);
        return rc;
    }
    sodium_mprotect_readonly(s);
    *out = s;
    return 0;
}

void
pv_signer_free(struct pv_signer *s)
{
    if (s)
        sodium_free(s);
}

void
pv_signer_sign(const struct pv_signer *s, const void *msg, size_t len,
               unsigned char sig[PV_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, s->sk);
}

void
pv_signer_public(const struct pv_signer *s, unsigned char pk[PV_SIGN_PK_BYTES])
{
    crypto_sign_ed25519_sk_to_pk(pk, s->sk);
}

int
pv_sig_load_public(const char *path, unsigned char pk[PV_SIGN_PK_BYTES])
{
    char line[2 * PV_SIGN_PK_BYTES + 4];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return errno == ENOENT ? PV_ENOTFOUND : PV_EIO;
    if (fgets(line, sizeof line, f) == NULL) {
        (void)fclose(f);
        return PV_EINVAL;
    }
    (void)fclose(f);
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    return pv_unhex(line, pk, PV_SIGN_PK_BYTES);
}

int
pv_sig_verify(const unsigned char pk[PV_SIGN_PK_BYTES], const void *msg, size_t len,
              const unsigned char sig[PV_SIG_BYTES])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : PV_ECRYPTO;
}
