#ifndef FEDSHARE_CGMP_SHIM_H
#define FEDSHARE_CGMP_SHIM_H

#include <gmp.h>
#include <stdlib.h>
#include <string.h>

/* GMP spells several operations as macros, which Swift cannot import; they are republished
   here as static inline functions. */

static inline int fs_mpz_sgn(mpz_srcptr z) { return mpz_sgn(z); }
static inline int fs_mpz_odd_p(mpz_srcptr z) { return mpz_odd_p(z); }
static inline size_t fs_mpz_size(mpz_srcptr z) { return mpz_size(z); }

/* Overwrites every limb that z has allocated, used before clearing values that held secrets. */
static inline void fs_mpz_wipe(mpz_ptr z) {
    if (z->_mp_d != NULL && z->_mp_alloc > 0) {
        explicit_bzero(z->_mp_d, (size_t)z->_mp_alloc * sizeof(mp_limb_t));
    }
    z->_mp_size = 0;
}

/* Memory functions that zero every block GMP gives back, so limbs that held secrets (including
   GMP's own temporaries during exponentiation) do not linger in freed memory. */
static void *fs_gmp_alloc(size_t size) {
    void *block = malloc(size);
    if (block == NULL) abort();
    return block;
}

static void *fs_gmp_realloc(void *old, size_t old_size, size_t new_size) {
    void *block = fs_gmp_alloc(new_size);
    memcpy(block, old, old_size < new_size ? old_size : new_size);
    explicit_bzero(old, old_size);
    free(old);
    return block;
}

static void fs_gmp_free(void *block, size_t size) {
    if (block == NULL) return;
    explicit_bzero(block, size);
    free(block);
}

static inline void fs_gmp_install_zeroising_allocator(void) {
    mp_set_memory_functions(fs_gmp_alloc, fs_gmp_realloc, fs_gmp_free);
}

#endif
