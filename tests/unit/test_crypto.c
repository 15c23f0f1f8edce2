/* test_crypto.c: keyring, sealing, passwords, tokens, signatures. */
#include <sys/stat.h>

#include "testutil.h"

#include "crypto/crypto.h"

struct fixture {
    char dir[64];
    char path[128];
    struct pv_keyring *kr;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    make_temp_dir(f->dir);
    test_snprintf(f->path, sizeof f->path, "%s/master.key", f->dir);
    assert_int_equal(pv_keyring_create(f->path), 0);
    assert_int_equal(pv_keyring_load(f->path, &f->kr), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    pv_keyring_free(f->kr);
    rm_tree(f->dir);
    free(f);
    return 0;
}

static void
test_key_file_is_private_and_never_overwritten(void **state)
{
    struct fixture *f = *state;
    struct pv_keyring *kr;
    struct stat st;

    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(pv_keyring_create(f->path), PV_EEXIST);
    /* A key file others can read is refused. */
    chmod(f->path, 0644);
    assert_int_equal(pv_keyring_load(f->path, &kr), PV_EINVAL);
    chmod(f->path, 0600);
}

static void
test_seal_round_trip(void **state)
{
    struct pv_dkey dk;
    struct pv_seal_ad ad = {"sub_a", "rec_a", "notes"};
    unsigned char ct[128], pt[128];
    size_t n, m;

    (void)state;
    pv_dkey_new(&dk, 1);
    assert_int_equal(pv_seal(&dk, &ad, "\"hello\"", 7, ct, sizeof ct, &n), 0);
    assert_int_equal(n, 7 + PV_SEAL_OVERHEAD);
    assert_null(memmem(ct, n, "hello", 5));
    assert_int_equal(pv_unseal(&dk, &ad, ct, n, pt, sizeof pt, &m), 0);
    assert_int_equal(m, 7);
    assert_string_equal((char *)pt, "\"hello\"");
    /* Two seals of the same value differ (random nonces). */
    unsigned char ct2[128];
    size_t n2;
    assert_int_equal(pv_seal(&dk, &ad, "\"hello\"", 7, ct2, sizeof ct2, &n2), 0);
    assert_memory_not_equal(ct, ct2, n);
}

static void
test_seal_binds_subject_record_field_and_version(void **state)
{
    struct pv_dkey dk, other;
    struct pv_seal_ad ad = {"sub_a", "rec_a", "notes"};
    struct pv_seal_ad moved[] = {
        {"sub_b", "rec_a", "notes"}, {"sub_a", "rec_b", "notes"}, {"sub_a", "rec_a", "reason"}};
    unsigned char ct[128], pt[128];
    size_t n, m;

    (void)state;
    pv_dkey_new(&dk, 1);
    assert_int_equal(pv_seal(&dk, &ad, "42", 2, ct, sizeof ct, &n), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(pv_unseal(&dk, &moved[i], ct, n, pt, sizeof pt, &m), PV_ECRYPTO);
    /* The same key under another version number does not open it either. */
    other = dk;
    other.version = 2;
    assert_int_equal(pv_unseal(&other, &ad, ct, n, pt, sizeof pt, &m), PV_ECRYPTO);
    /* Nor does another key, nor a flipped bit. */
    pv_dkey_new(&other, 1);
    assert_int_equal(pv_unseal(&other, &ad, ct, n, pt, sizeof pt, &m), PV_ECRYPTO);
    ct[n - 1] ^= 1;
    assert_int_equal(pv_unseal(&dk, &ad, ct, n, pt, sizeof pt, &m), PV_ECRYPTO);
}

static void
test_wrap_binds_owner(void **state)
{
    struct fixture *f = *state;
    unsigned char w[PV_WRAPPED_BYTES];
    struct pv_dkey dk, back;
    uint32_t mv;

    pv_dkey_new(&dk, 1);
    assert_int_equal(pv_keyring_wrap(f->kr, "sub_a", &dk, w, &mv), 0);
    assert_int_equal(mv, 1);
    assert_null(memmem(w, sizeof w, dk.k, sizeof dk.k));
    assert_int_equal(pv_keyring_unwrap(f->kr, "sub_a", mv, 1, w, sizeof w, &back), 0);
    assert_memory_equal(back.k, dk.k, sizeof dk.k);
    assert_int_equal(pv_keyring_unwrap(f->kr, "sub_b", mv, 1, w, sizeof w, &back), PV_ECRYPTO);
    assert_int_equal(pv_keyring_unwrap(f->kr, "sub_a", mv, 2, w, sizeof w, &back), PV_ECRYPTO);
    assert_int_equal(pv_keyring_unwrap(f->kr, "sub_a", 7, 1, w, sizeof w, &back), PV_ECRYPTO);
}

static void
test_wrap_needs_this_keyring(void **state)
{
    struct fixture *f = *state;
    char path[160];
    struct pv_keyring *other;
    unsigned char w[PV_WRAPPED_BYTES];
    struct pv_dkey dk, back;
    uint32_t mv;

    test_snprintf(path, sizeof path, "%s/other.key", f->dir);
    assert_int_equal(pv_keyring_create(path), 0);
    assert_int_equal(pv_keyring_load(path, &other), 0);
    pv_dkey_new(&dk, 1);
    assert_int_equal(pv_keyring_wrap(f->kr, "sub_a", &dk, w, &mv), 0);
    assert_int_equal(pv_keyring_unwrap(other, "sub_a", mv, 1, w, sizeof w, &back), PV_ECRYPTO);
    pv_keyring_free(other);
}

static void
test_blind_index_is_keyed_and_separated(void **state)
{
    struct fixture *f = *state;
    unsigned char a[PV_HASH_BYTES], b[PV_HASH_BYTES], c[PV_HASH_BYTES], plain[PV_HASH_BYTES];

    pv_keyring_blind(f->kr, "user.contact.email", "ada@example.org", a);
    pv_keyring_blind(f->kr, "user.contact.email", "ada@example.org", b);
    assert_memory_equal(a, b, sizeof a);
    pv_keyring_blind(f->kr, "user.contact.phone_number", "ada@example.org", c);
    assert_memory_not_equal(a, c, sizeof a);
    /* Not the unkeyed hash: a guess cannot be checked without the index key. */
    pv_hash("ada@example.org", 15, plain);
    assert_memory_not_equal(a, plain, sizeof a);
}

static void
test_password_hash(void **state)
{
    char h[PV_PWHASH_MAX];

    (void)state;
    assert_int_equal(pv_password_hash("correct horse battery", h), 0);
    assert_non_null(strstr(h, "$argon2id$"));
    assert_null(strstr(h, "correct horse"));
    assert_int_equal(pv_password_verify(h, "correct horse battery"), 0);
    assert_int_equal(pv_password_verify(h, "correct horse batterx"), PV_ELOGIN);
    /* No user: fails like a wrong password. */
    assert_int_equal(pv_password_verify(NULL, "correct horse battery"), PV_ELOGIN);
}

static void
test_tokens(void **state)
{
    char t1[PV_TOKEN_LEN + 1], t2[PV_TOKEN_LEN + 1];
    unsigned char h1[PV_HASH_BYTES], h2[PV_HASH_BYTES];

    (void)state;
    pv_token_new(t1);
    pv_token_new(t2);
    assert_int_equal(strlen(t1), PV_TOKEN_LEN);
    assert_string_not_equal(t1, t2);
    assert_int_equal(pv_token_hash(t1, h1), 0);
    assert_int_equal(pv_token_hash(t1, h2), 0);
    assert_memory_equal(h1, h2, sizeof h1);
    assert_null(memmem(h1, sizeof h1, t1 + 4, 8));
    assert_int_equal(pv_token_hash("pvt_short", h1), PV_EINVAL);
    t2[10] = '%';
    assert_int_equal(pv_token_hash(t2, h1), PV_EINVAL);
}

static void
test_signatures(void **state)
{
    struct fixture *f = *state;
    char sk[160], pk_path[160];
    unsigned char pk[PV_SIGN_PK_BYTES], pk2[PV_SIGN_PK_BYTES], sig[PV_SIG_BYTES];
    struct pv_signer *s;

    test_snprintf(sk, sizeof sk, "%s/audit.key", f->dir);
    test_snprintf(pk_path, sizeof pk_path, "%s/audit.pub", f->dir);
    assert_int_equal(pv_signer_create(sk, pk_path), 0);
    assert_int_equal(pv_signer_load(sk, &s), 0);
    assert_int_equal(pv_sig_load_public(pk_path, pk), 0);
    pv_signer_public(s, pk2);
    assert_memory_equal(pk, pk2, sizeof pk);
    pv_signer_sign(s, "checkpoint", 10, sig);
    assert_int_equal(pv_sig_verify(pk, "checkpoint", 10, sig), 0);
    assert_int_equal(pv_sig_verify(pk, "checkpoinT", 10, sig), PV_ECRYPTO);
    sig[0] ^= 1;
    assert_int_equal(pv_sig_verify(pk, "checkpoint", 10, sig), PV_ECRYPTO);
    pv_signer_free(s);
}

/* RFC 6238 appendix B, the SHA-1 column (8 digits; its 20-byte seed), and RFC 4648's base32
 * vectors. */
static void
test_totp_and_base32(void **state)
{
    static const unsigned char seed[] = "12345678901234567890";
    static const struct {
        int64_t t;
        uint32_t code;
    } vectors[] = {{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
                   {1234567890, 89005924}, {2000000000, 69279037}, {20000000000, 65353130}};
    static const char *const b32[][2] = {{"", ""},
                                         {"f", "MY"},
                                         {"fo", "MZXQ"},
                                         {"foo", "MZXW6"},
                                         {"foob", "MZXW6YQ"},
                                         {"fooba", "MZXW6YTB"},
                                         {"foobar", "MZXW6YTBOI"}};
    char out[32];
    int64_t step;

    (void)state;
    for (size_t i = 0; i < PV_ARRAY_LEN(vectors); i++) {
        assert_int_equal(pv_totp_code(seed, 20, vectors[i].t / 30, 8), vectors[i].code);
        assert_int_equal(pv_totp_code(seed, 20, vectors[i].t / 30, 6), vectors[i].code % 1000000);
    }
    /* 1234567890 -> step 41152263, code 005924 (its leading zeros are part of it): accepted a
     * step either side, never twice. */
    assert_int_equal(pv_totp_verify(seed, 20, "005924", 1234567890, 0, &step), 0);
    assert_int_equal(step, 41152263);
    assert_int_equal(pv_totp_verify(seed, 20, "005924", 1234567890 + 30, 0, &step), 0);
    assert_int_equal(pv_totp_verify(seed, 20, "005924", 1234567890 - 30, 0, &step), 0);
    assert_int_equal(pv_totp_verify(seed, 20, "005924", 1234567890 + 60, 0, &step), PV_ELOGIN);
    assert_int_equal(pv_totp_verify(seed, 20, "005924", 1234567890, 41152263, &step), PV_ELOGIN);
    assert_int_equal(pv_totp_verify(seed, 20, "005925", 1234567890, 0, &step), PV_ELOGIN);
    assert_int_equal(pv_totp_verify(seed, 20, "5924", 1234567890, 0, &step), PV_ELOGIN);
    assert_int_equal(pv_totp_verify(seed, 20, "0059240", 1234567890, 0, &step), PV_ELOGIN);
    assert_int_equal(pv_totp_verify(seed, 20, "00592a", 1234567890, 0, &step), PV_ELOGIN);
    assert_int_equal(pv_totp_verify(seed, 20, NULL, 1234567890, 0, &step), PV_ELOGIN);
    /* The SHA-256 code of the same step (RFC 6238's SHA-256 column, 32-byte seed) is not ours. */
    assert_int_equal(pv_totp_verify((const unsigned char *)"12345678901234567890123456789012", 32,
                                    "819424", 1234567890, 0, &step),
                     PV_ELOGIN);
    for (size_t i = 0; i < PV_ARRAY_LEN(b32); i++) {
        assert_int_equal(
            pv_base32_encode((const unsigned char *)b32[i][0], strlen(b32[i][0]), out, sizeof out),
            0);
        assert_string_equal(out, b32[i][1]);
    }
    assert_int_equal(pv_base32_encode(seed, 32, out, sizeof out), PV_ETOOBIG);
}

static void
test_api_keys(void **state)
{
    char k1[PV_APIKEY_LEN + 1], k2[PV_APIKEY_LEN + 1];
    unsigned char h1[PV_HASH_BYTES], h2[PV_HASH_BYTES], t[PV_HASH_BYTES];

    (void)state;
    pv_apikey_new(k1);
    pv_apikey_new(k2);
    assert_int_equal(strlen(k1), PV_APIKEY_LEN);
    assert_int_equal(strncmp(k1, "pvk_", 4), 0);
    assert_string_not_equal(k1, k2);
    assert_int_equal(pv_apikey_hash(k1, h1), 0);
    assert_int_equal(pv_apikey_hash(k2, h2), 0);
    assert_memory_not_equal(h1, h2, PV_HASH_BYTES);
    /* A key is not a session token, and the two hashes are kept apart. */
    assert_int_equal(pv_token_hash(k1, t), PV_EINVAL);
    k1[0] = 'x';
    assert_int_equal(pv_apikey_hash(k1, h1), PV_EINVAL);
    assert_int_equal(pv_apikey_hash("pvk_short", h1), PV_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_file_is_private_and_never_overwritten, setup,
                                        teardown),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_binds_subject_record_field_and_version),
        cmocka_unit_test_setup_teardown(test_wrap_binds_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap_needs_this_keyring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blind_index_is_keyed_and_separated, setup, teardown),
        cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_totp_and_base32),
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test_setup_teardown(test_signatures, setup, teardown),
    };

    if (pv_crypto_init(2) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
