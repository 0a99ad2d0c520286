/* CRC-32C (Castagnoli). A slicing-by-8 table version for any CPU and an SSE4.2 version
 * (crc32 instruction, three independent streams to hide its latency) enabled per
 * function with a target attribute; the choice is made once, on first use. */
#include "osprey_crc32c.h"
#include <string.h>

#define OSPREY_CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];

static void osprey_crc32c_init_table(void) {
    if (crc_table[0][1] != 0) return;
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ OSPREY_CRC32C_POLY : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xff] ^ (c >> 8);
            crc_table[t][n] = c;
        }
    }
}

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t osprey_crc32c_extend_portable(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    uint32_t c = ~crc;
    while (length > 0 && ((uintptr_t)p & 7) != 0) {
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        length--;
    }
    while (length >= 8) {
        uint64_t w = load_le64(p) ^ c;
        c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
            crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
            crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
            crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        length--;
    }
    return ~c;
}

#if !defined(__x86_64__)
__attribute__((constructor)) static void osprey_crc32c_init(void) { osprey_crc32c_init_table(); }
#endif

#if defined(__x86_64__)
#include <nmmintrin.h>

/* Three interleaved streams over consecutive blocks of BLOCK bytes each, combined with
 * crc(a||b) = shift(crc(a), |b|) xor crc(b) for raw (non-inverted, zero-initialised)
 * states, where shift advances a state over |b| zero bytes. The shift over BLOCK bytes is
 * linear in the state, so it is four 256-entry tables, built once from 32 basis vectors. */
enum { CRC_BLOCK = 4096 };
static uint32_t shift_table[4][256];

static uint32_t crc32c_shift_slow(uint32_t crc, size_t len) {
    while (len > 0) {
        crc = crc_table[0][crc & 0xff] ^ (crc >> 8);
        len--;
    }
    return crc;
}

__attribute__((constructor)) static void osprey_crc32c_init_shift(void) {
    osprey_crc32c_init_table();
    uint32_t basis[32];
    for (int bit = 0; bit < 32; bit++) basis[bit] = crc32c_shift_slow(1u << bit, CRC_BLOCK);
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int bit = 0; bit < 8; bit++)
                if (b & (1u << bit)) v ^= basis[8 * k + bit];
            shift_table[k][b] = v;
        }
    }
}

static inline uint32_t crc32c_shift_block(uint32_t crc) {
    return shift_table[0][crc & 0xff] ^ shift_table[1][(crc >> 8) & 0xff] ^
           shift_table[2][(crc >> 16) & 0xff] ^ shift_table[3][crc >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t osprey_crc32c_extend_sse42(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t c = (uint32_t)~crc;
    while (length > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        length--;
    }
    enum { BLOCK = CRC_BLOCK };
    while (length >= 3 * BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        const uint8_t *p1 = p + BLOCK, *p2 = p + 2 * BLOCK;
        for (size_t i = 0; i < BLOCK; i += 8) {
            c = _mm_crc32_u64(c, load_le64(p + i));
            c1 = _mm_crc32_u64(c1, load_le64(p1 + i));
            c2 = _mm_crc32_u64(c2, load_le64(p2 + i));
        }
        c = crc32c_shift_block((uint32_t)c) ^ (uint32_t)c1;
        c = crc32c_shift_block((uint32_t)c) ^ (uint32_t)c2;
        p += 3 * BLOCK;
        length -= 3 * BLOCK;
    }
    while (length >= 8) {
        c = _mm_crc32_u64(c, load_le64(p));
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        length--;
    }
    return ~(uint32_t)c;
}

static int has_sse42 = -1;

static int detect_sse42(void) {
    int v = __atomic_load_n(&has_sse42, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&has_sse42, v, __ATOMIC_RELAXED);
    }
    return v;
}

uint32_t osprey_crc32c_extend(uint32_t crc, const void *data, size_t length) {
    if (__atomic_load_n(&has_sse42, __ATOMIC_RELAXED) > 0 || detect_sse42())
        return osprey_crc32c_extend_sse42(crc, data, length);
    return osprey_crc32c_extend_portable(crc, data, length);
}

int osprey_crc32c_is_hardware_accelerated(void) { return detect_sse42(); }

#else

uint32_t osprey_crc32c_extend(uint32_t crc, const void *data, size_t length) {
    return osprey_crc32c_extend_portable(crc, data, length);
}

int osprey_crc32c_is_hardware_accelerated(void) { return 0; }

#endif
