/*
 * wharf_sha: resumable SHA-256 / SHA-512 for Wharf, as a plain N-API addon.
 *
 * A hash's live state is a small byte buffer owned by JavaScript, laid out
 * exactly like Wharf's raw exported state (src/digest/state.ts):
 *
 *   sha256 (104 bytes): H0..H7 uint32 BE | total bytes uint64 BE  | pending[64]
 *   sha512 (208 bytes): H0..H7 uint64 BE | total bytes uint128 BE | pending[128]
 *
 * The number of valid pending bytes is always total mod block size, so no
 * buffer contents can make the code read or write out of bounds; the kind of
 * state is told by its length. Exporting is a copy of a prefix, done in JS.
 *
 * Exports:
 *   update(state, data)              feed data (one JS->C crossing per chunk)
 *   updateAsync(state, data)         same on the libuv threadpool -> Promise<void>
 *   digest(state) -> Buffer          digest of the state (state unchanged)
 *   shaNiAvailable: boolean          CPU has SHA-NI and it was compiled in
 *   setShaNi(on) -> boolean          use SHA-NI for SHA-256 (default: if available)
 *
 * SHA-256 uses the x86 SHA extensions when the CPU has them (runtime CPUID
 * check; the function is compiled with a target attribute, so no global
 * -msha is needed), else portable C. SHA-512 is portable, unrolled C.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define WHARF_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define WHARF_HAVE_SHANI 0
#endif

/* ------------------------------------------------------------------ helpers */

static inline uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint64_t load_be64(const uint8_t *p) {
  return ((uint64_t)load_be32(p) << 32) | load_be32(p + 4);
}
static inline void store_be64(uint8_t *p, uint64_t v) {
  store_be32(p, (uint32_t)(v >> 32)); store_be32(p + 4, (uint32_t)v);
}

/* Fully unroll the round loops (constant W/K indices): ~1.5x for portable C. */
#if defined(__clang__)
#define UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define UNROLL _Pragma("GCC unroll 16")
#else
#define UNROLL
#endif

#define ROTR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

/* ------------------------------------------------------- SHA-256 portable */

static const uint32_t K256[64] = {
  0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U, 0xab1c5ed5U,
  0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU, 0x9bdc06a7U, 0xc19bf174U,
  0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU, 0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU,
  0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U, 0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U,
  0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU, 0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U,
  0xa2bfe8a1U, 0xa81a664bU, 0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U,
  0x19a4c116U, 0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
  0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U, 0xc67178f2U,
};

#define S256_0(x) (ROTR32(x, 2) ^ ROTR32(x, 13) ^ ROTR32(x, 22))
#define S256_1(x) (ROTR32(x, 6) ^ ROTR32(x, 11) ^ ROTR32(x, 25))
#define s256_0(x) (ROTR32(x, 7) ^ ROTR32(x, 18) ^ ((x) >> 3))
#define s256_1(x) (ROTR32(x, 17) ^ ROTR32(x, 19) ^ ((x) >> 10))

#define R256(a, b, c, d, e, f, g, h, w, k)                  \
  do {                                                     \
    uint32_t t1_ = (h) + S256_1(e) + CH(e, f, g) + (k) + (w); \
    uint32_t t2_ = S256_0(a) + MAJ(a, b, c);               \
    (d) += t1_;                                            \
    (h) = t1_ + t2_;                                       \
  } while (0)

#define W256X(i) (W[(i) & 15] += s256_1(W[((i) - 2) & 15]) + W[((i) - 7) & 15] + s256_0(W[((i) - 15) & 15]))

static void sha256_blocks_c(uint32_t H[8], const uint8_t *p, size_t n) {
  uint32_t W[16];
  while (n--) {
    uint32_t a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (int i = 0; i < 16; i++) W[i] = load_be32(p + 4 * i);
    UNROLL for (int i = 0; i < 16; i += 8) {
      R256(a, b, c, d, e, f, g, h, W[i + 0], K256[i + 0]);
      R256(h, a, b, c, d, e, f, g, W[i + 1], K256[i + 1]);
      R256(g, h, a, b, c, d, e, f, W[i + 2], K256[i + 2]);
      R256(f, g, h, a, b, c, d, e, W[i + 3], K256[i + 3]);
      R256(e, f, g, h, a, b, c, d, W[i + 4], K256[i + 4]);
      R256(d, e, f, g, h, a, b, c, W[i + 5], K256[i + 5]);
      R256(c, d, e, f, g, h, a, b, W[i + 6], K256[i + 6]);
      R256(b, c, d, e, f, g, h, a, W[i + 7], K256[i + 7]);
    }
    UNROLL for (int i = 16; i < 64; i += 8) {
      R256(a, b, c, d, e, f, g, h, W256X(i + 0), K256[i + 0]);
      R256(h, a, b, c, d, e, f, g, W256X(i + 1), K256[i + 1]);
      R256(g, h, a, b, c, d, e, f, W256X(i + 2), K256[i + 2]);
      R256(f, g, h, a, b, c, d, e, W256X(i + 3), K256[i + 3]);
      R256(e, f, g, h, a, b, c, d, W256X(i + 4), K256[i + 4]);
      R256(d, e, f, g, h, a, b, c, W256X(i + 5), K256[i + 5]);
      R256(c, d, e, f, g, h, a, b, W256X(i + 6), K256[i + 6]);
      R256(b, c, d, e, f, g, h, a, W256X(i + 7), K256[i + 7]);
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    p += 64;
  }
}

/* ------------------------------------------------------- SHA-256 SHA-NI */

#if WHARF_HAVE_SHANI
#define SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

#define NI_LOAD(g, M) M = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * (g))), MASK)
#define NI_RND_A(g, M)                                                        \
  MSG = _mm_add_epi32(M, _mm_loadu_si128((const __m128i *)&K256[4 * (g)]));    \
  S1 = _mm_sha256rnds2_epu32(S1, S0, MSG)
#define NI_RND_B()                    \
  MSG = _mm_shuffle_epi32(MSG, 0x0E); \
  S0 = _mm_sha256rnds2_epu32(S0, S1, MSG)
/* Mnext += alignr(Mcur, Mprev) ; Mnext = msg2(Mnext, Mcur) */
#define NI_MSG2(Mcur, Mprev, Mnext)         \
  TMP = _mm_alignr_epi8(Mcur, Mprev, 4);    \
  Mnext = _mm_add_epi32(Mnext, TMP);        \
  Mnext = _mm_sha256msg2_epu32(Mnext, Mcur)
#define NI_MSG1(Mprev, Mcur) Mprev = _mm_sha256msg1_epu32(Mprev, Mcur)

SHANI_TARGET
static void sha256_blocks_shani(uint32_t H[8], const uint8_t *p, size_t n) {
  const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i S0, S1, MSG, TMP, M0, M1, M2, M3, ABEF, CDGH;

  TMP = _mm_loadu_si128((const __m128i *)&H[0]);
  S1 = _mm_loadu_si128((const __m128i *)&H[4]);
  TMP = _mm_shuffle_epi32(TMP, 0xB1);    /* CDAB */
  S1 = _mm_shuffle_epi32(S1, 0x1B);      /* EFGH */
  S0 = _mm_alignr_epi8(TMP, S1, 8);      /* ABEF */
  S1 = _mm_blend_epi16(S1, TMP, 0xF0);   /* CDGH */

  while (n--) {
    ABEF = S0;
    CDGH = S1;
    NI_LOAD(0, M0); NI_RND_A(0, M0); NI_RND_B();
    NI_LOAD(1, M1); NI_RND_A(1, M1); NI_RND_B(); NI_MSG1(M0, M1);
    NI_LOAD(2, M2); NI_RND_A(2, M2); NI_RND_B(); NI_MSG1(M1, M2);
    NI_LOAD(3, M3); NI_RND_A(3, M3); NI_MSG2(M3, M2, M0); NI_RND_B(); NI_MSG1(M2, M3);
    NI_RND_A(4, M0);  NI_MSG2(M0, M3, M1); NI_RND_B(); NI_MSG1(M3, M0);
    NI_RND_A(5, M1);  NI_MSG2(M1, M0, M2); NI_RND_B(); NI_MSG1(M0, M1);
    NI_RND_A(6, M2);  NI_MSG2(M2, M1, M3); NI_RND_B(); NI_MSG1(M1, M2);
    NI_RND_A(7, M3);  NI_MSG2(M3, M2, M0); NI_RND_B(); NI_MSG1(M2, M3);
    NI_RND_A(8, M0);  NI_MSG2(M0, M3, M1); NI_RND_B(); NI_MSG1(M3, M0);
    NI_RND_A(9, M1);  NI_MSG2(M1, M0, M2); NI_RND_B(); NI_MSG1(M0, M1);
    NI_RND_A(10, M2); NI_MSG2(M2, M1, M3); NI_RND_B(); NI_MSG1(M1, M2);
    NI_RND_A(11, M3); NI_MSG2(M3, M2, M0); NI_RND_B(); NI_MSG1(M2, M3);
    NI_RND_A(12, M0); NI_MSG2(M0, M3, M1); NI_RND_B(); NI_MSG1(M3, M0);
    NI_RND_A(13, M1); NI_MSG2(M1, M0, M2); NI_RND_B();
    NI_RND_A(14, M2); NI_MSG2(M2, M1, M3); NI_RND_B();
    NI_RND_A(15, M3); NI_RND_B();
    S0 = _mm_add_epi32(S0, ABEF);
    S1 = _mm_add_epi32(S1, CDGH);
    p += 64;
  }

  TMP = _mm_shuffle_epi32(S0, 0x1B);     /* FEBA */
  S1 = _mm_shuffle_epi32(S1, 0xB1);      /* DCHG */
  S0 = _mm_blend_epi16(TMP, S1, 0xF0);   /* DCBA */
  S1 = _mm_alignr_epi8(S1, TMP, 8);      /* ABEF -> HGFE */
  _mm_storeu_si128((__m128i *)&H[0], S0);
  _mm_storeu_si128((__m128i *)&H[4], S1);
}

static int cpu_has_shani(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 29) & 1; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#endif

static int shani_available = 0;
static volatile int shani_enabled = 0;

static void sha256_blocks(uint32_t H[8], const uint8_t *p, size_t n) {
#if WHARF_HAVE_SHANI
  if (shani_enabled) {
    sha256_blocks_shani(H, p, n);
    return;
  }
#endif
  sha256_blocks_c(H, p, n);
}

/* ------------------------------------------------------- SHA-512 portable */

static const uint64_t K512[80] = {
  0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
  0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
  0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
  0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
  0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
  0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
  0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
  0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
  0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
  0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
  0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
  0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
  0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
  0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
  0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
  0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
  0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
  0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
  0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
  0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

#define S512_0(x) (ROTR64(x, 28) ^ ROTR64(x, 34) ^ ROTR64(x, 39))
#define S512_1(x) (ROTR64(x, 14) ^ ROTR64(x, 18) ^ ROTR64(x, 41))
#define s512_0(x) (ROTR64(x, 1) ^ ROTR64(x, 8) ^ ((x) >> 7))
#define s512_1(x) (ROTR64(x, 19) ^ ROTR64(x, 61) ^ ((x) >> 6))

#define R512(a, b, c, d, e, f, g, h, w, k)                     \
  do {                                                        \
    uint64_t t1_ = (h) + S512_1(e) + CH(e, f, g) + (k) + (w); \
    uint64_t t2_ = S512_0(a) + MAJ(a, b, c);                  \
    (d) += t1_;                                               \
    (h) = t1_ + t2_;                                          \
  } while (0)

#define W512X(i) (W[(i) & 15] += s512_1(W[((i) - 2) & 15]) + W[((i) - 7) & 15] + s512_0(W[((i) - 15) & 15]))

static void sha512_blocks(uint64_t H[8], const uint8_t *p, size_t n) {
  uint64_t W[16];
  while (n--) {
    uint64_t a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (int i = 0; i < 16; i++) W[i] = load_be64(p + 8 * i);
    UNROLL for (int i = 0; i < 16; i += 8) {
      R512(a, b, c, d, e, f, g, h, W[i + 0], K512[i + 0]);
      R512(h, a, b, c, d, e, f, g, W[i + 1], K512[i + 1]);
      R512(g, h, a, b, c, d, e, f, W[i + 2], K512[i + 2]);
      R512(f, g, h, a, b, c, d, e, W[i + 3], K512[i + 3]);
      R512(e, f, g, h, a, b, c, d, W[i + 4], K512[i + 4]);
      R512(d, e, f, g, h, a, b, c, W[i + 5], K512[i + 5]);
      R512(c, d, e, f, g, h, a, b, W[i + 6], K512[i + 6]);
      R512(b, c, d, e, f, g, h, a, W[i + 7], K512[i + 7]);
    }
    UNROLL for (int i = 16; i < 80; i += 8) {
      R512(a, b, c, d, e, f, g, h, W512X(i + 0), K512[i + 0]);
      R512(h, a, b, c, d, e, f, g, W512X(i + 1), K512[i + 1]);
      R512(g, h, a, b, c, d, e, f, W512X(i + 2), K512[i + 2]);
      R512(f, g, h, a, b, c, d, e, W512X(i + 3), K512[i + 3]);
      R512(e, f, g, h, a, b, c, d, W512X(i + 4), K512[i + 4]);
      R512(d, e, f, g, h, a, b, c, W512X(i + 5), K512[i + 5]);
      R512(c, d, e, f, g, h, a, b, W512X(i + 6), K512[i + 6]);
      R512(b, c, d, e, f, g, h, a, W512X(i + 7), K512[i + 7]);
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    p += 128;
  }
}

/* ------------------------------------------------ state-buffer operations */

enum { ALG_SHA256 = 0, ALG_SHA512 = 1 };
#define SHA256_STATE 104 /* 32 H + 8 total + 64 pending */
#define SHA512_STATE 208 /* 64 H + 16 total + 128 pending */

static int alg_of_state(size_t len) {
  return len == SHA256_STATE ? ALG_SHA256 : len == SHA512_STATE ? ALG_SHA512 : -1;
}

static void sha256_state_update(uint8_t *st, const uint8_t *p, size_t len) {
  uint32_t H[8];
  uint8_t *buf = st + 40;
  uint64_t total = load_be64(st + 32);
  size_t have = (size_t)(total & 63);
  for (int i = 0; i < 8; i++) H[i] = load_be32(st + 4 * i);
  total += len;
  if (have > 0) {
    size_t take = 64 - have < len ? 64 - have : len;
    memcpy(buf + have, p, take);
    p += take;
    len -= take;
    have += take;
    if (have < 64) goto out;
    sha256_blocks(H, buf, 1);
  }
  if (len >= 64) {
    sha256_blocks(H, p, len / 64);
    p += len & ~(size_t)63;
    len &= 63;
  }
  if (len > 0) memcpy(buf, p, len);
out:
  for (int i = 0; i < 8; i++) store_be32(st + 4 * i, H[i]);
  store_be64(st + 32, total);
}

static void sha512_state_update(uint8_t *st, const uint8_t *p, size_t len) {
  uint64_t H[8];
  uint8_t *buf = st + 80;
  uint64_t total_hi = load_be64(st + 64), total_lo = load_be64(st + 72);
  size_t have = (size_t)(total_lo & 127);
  for (int i = 0; i < 8; i++) H[i] = load_be64(st + 8 * i);
  total_lo += len;
  if (total_lo < len) total_hi++;
  if (have > 0) {
    size_t take = 128 - have < len ? 128 - have : len;
    memcpy(buf + have, p, take);
    p += take;
    len -= take;
    have += take;
    if (have < 128) goto out;
    sha512_blocks(H, buf, 1);
  }
  if (len >= 128) {
    sha512_blocks(H, p, len / 128);
    p += len & ~(size_t)127;
    len &= 127;
  }
  if (len > 0) memcpy(buf, p, len);
out:
  for (int i = 0; i < 8; i++) store_be64(st + 8 * i, H[i]);
  store_be64(st + 64, total_hi);
  store_be64(st + 72, total_lo);
}

static void state_update(int alg, uint8_t *st, const uint8_t *p, size_t len) {
  if (len == 0) return;
  if (alg == ALG_SHA256) sha256_state_update(st, p, len);
  else sha512_state_update(st, p, len);
}

/* Digest of a state without modifying it; out: 32 or 64 bytes. */
static void state_digest(int alg, const uint8_t *st, uint8_t *out) {
  uint8_t blk[256];
  if (alg == ALG_SHA256) {
    uint32_t H[8];
    uint64_t total = load_be64(st + 32);
    size_t have = (size_t)(total & 63);
    size_t n = have + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) H[i] = load_be32(st + 4 * i);
    memset(blk, 0, sizeof blk);
    memcpy(blk, st + 40, have);
    blk[have] = 0x80;
    store_be64(blk + n - 8, total << 3);
    sha256_blocks(H, blk, n / 64);
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, H[i]);
  } else {
    uint64_t H[8];
    uint64_t total_hi = load_be64(st + 64), total_lo = load_be64(st + 72);
    size_t have = (size_t)(total_lo & 127);
    size_t n = have + 1 + 16 <= 128 ? 128 : 256;
    for (int i = 0; i < 8; i++) H[i] = load_be64(st + 8 * i);
    memset(blk, 0, sizeof blk);
    memcpy(blk, st + 80, have);
    blk[have] = 0x80;
    store_be64(blk + n - 16, (total_hi << 3) | (total_lo >> 61));
    store_be64(blk + n - 8, total_lo << 3);
    sha512_blocks(H, blk, n / 128);
    for (int i = 0; i < 8; i++) store_be64(out + 8 * i, H[i]);
  }
}

/* ------------------------------------------------------------------ N-API */

#define NAPI_CALL(env, call)                                         \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      const napi_extended_error_info *info_ = NULL;                  \
      bool pending_ = false;                                         \
      napi_get_last_error_info((env), &info_);                       \
      napi_is_exception_pending((env), &pending_);                   \
      if (!pending_)                                                 \
        napi_throw_error((env), NULL,                                \
                         info_ && info_->error_message               \
                             ? info_->error_message                  \
                             : "wharf_sha: N-API call failed");      \
      return NULL;                                                   \
    }                                                                \
  } while (0)

/* Bytes of a Uint8Array (Buffer included). Returns 0 and throws otherwise. */
static int get_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off) != napi_ok || type != napi_uint8_array) {
    char msg[96];
    snprintf(msg, sizeof msg, "wharf_sha: %s must be a Uint8Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *data = (uint8_t *)ptr;
  return 1;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "wharf_sha: missing arguments");
    return 0;
  }
  return 1;
}

static int get_state(napi_env env, napi_value v, uint8_t **st, int *alg) {
  size_t len;
  if (!get_bytes(env, v, "state", st, &len)) return 0;
  *alg = alg_of_state(len);
  if (*alg < 0) {
    napi_throw_type_error(env, NULL, "wharf_sha: state must be 104 (sha256) or 208 (sha512) bytes");
    return 0;
  }
  return 1;
}

static napi_value js_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint8_t *st, *data;
  size_t len;
  int alg;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (!get_state(env, argv[0], &st, &alg)) return NULL;
  if (!get_bytes(env, argv[1], "data", &data, &len)) return NULL;
  state_update(alg, st, data, len);
  return NULL;
}

/* One piece of an async update: the bytes of one Uint8Array. */
typedef struct {
  const uint8_t *data;
  size_t len;
} piece;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref state_ref, data_ref;
  uint8_t *st;
  int alg;
  size_t count;
  piece pieces[]; /* count entries: one buffer, or the elements of an array in order */
} async_req;

static void async_execute(napi_env env, void *arg) {
  (void)env;
  async_req *r = (async_req *)arg;
  for (size_t i = 0; i < r->count; i++) state_update(r->alg, r->st, r->pieces[i].data, r->pieces[i].len);
}

static void async_complete(napi_env env, napi_status status, void *arg) {
  async_req *r = (async_req *)arg;
  napi_value v;
  if (status == napi_ok) {
    napi_get_undefined(env, &v);
    napi_resolve_deferred(env, r->deferred, v);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, "wharf_sha: async update failed or was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &v);
    napi_reject_deferred(env, r->deferred, v);
  }
  napi_delete_reference(env, r->state_ref);
  napi_delete_reference(env, r->data_ref);
  napi_delete_async_work(env, r->work);
  free(r);
}

/*
 * updateAsync(state, data): data is one Uint8Array or an array of them (hashed
 * in order in one job, so a batch of socket chunks needs no concatenation).
 * The caller must not change the array or the bytes until the promise settles.
 */
static napi_value js_update_async(napi_env env, napi_callback_info info) {
  napi_value argv[2], promise, name;
  uint8_t *st;
  int alg;
  bool is_array = false;
  uint32_t count = 1;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (!get_state(env, argv[0], &st, &alg)) return NULL;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok) return NULL;
  if (is_array && napi_get_array_length(env, argv[1], &count) != napi_ok) return NULL;
  async_req *r = (async_req *)calloc(1, sizeof *r + (size_t)count * sizeof(piece));
  if (r == NULL) {
    napi_throw_error(env, NULL, "wharf_sha: out of memory");
    return NULL;
  }
  r->count = count;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item = argv[1];
    uint8_t *data;
    if (is_array && napi_get_element(env, argv[1], i, &item) != napi_ok) {
      free(r);
      return NULL;
    }
    if (!get_bytes(env, item, "data", &data, &r->pieces[i].len)) {
      free(r);
      return NULL;
    }
    r->pieces[i].data = data;
  }
  r->st = st;
  r->alg = alg;
  /* Keep the state and the data (the buffer, or the array holding them) alive until the work completes. */
  if (napi_create_reference(env, argv[0], 1, &r->state_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &r->data_ref) != napi_ok ||
      napi_create_promise(env, &r->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "wharf_sha.updateAsync", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, async_execute, async_complete, r, &r->work) != napi_ok ||
      napi_queue_async_work(env, r->work) != napi_ok) {
    /* Unlikely; leak the small request rather than risk a double free. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, NULL, "wharf_sha: could not queue async update");
    return NULL;
  }
  return promise;
}

static napi_value js_digest(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  uint8_t *st;
  uint8_t out[64];
  int alg;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (!get_state(env, argv[0], &st, &alg)) return NULL;
  state_digest(alg, st, out);
  NAPI_CALL(env, napi_create_buffer_copy(env, alg == ALG_SHA256 ? 32 : 64, out, NULL, &result));
  return result;
}

static napi_value js_set_shani(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  bool on = false;
  if (!get_args(env, info, 1, argv)) return NULL;
  NAPI_CALL(env, napi_get_value_bool(env, argv[0], &on));
  shani_enabled = on && shani_available;
  NAPI_CALL(env, napi_get_boolean(env, shani_enabled != 0, &result));
  return result;
}

/*
 * Every request body passes through the C heap: Node's HTTP parser copies each
 * socket read (~64 KiB) into a fresh malloc'ed buffer, freed when the GC gets
 * to it. With glibc's default (dynamic, ~2 MiB) trim threshold the main arena
 * gives its top back to the kernel and takes it again ~1000 times per GiB
 * uploaded (brk), and every page taken back is a page fault on the next copy:
 * 30-60 thousand faults per GiB, ~20% of the event loop's time in a one-PATCH
 * push (bench/PROFILE.md, 2026-12-05 night). Keeping up to HEAP_KEEP_BYTES of
 * freed top in the process makes them ~10 thousand. The hash addon does it
 * because every process that takes uploads loads it; an explicit
 * GLIBC_TUNABLES or MALLOC_TRIM_THRESHOLD_ from the operator wins.
 */
#define HEAP_KEEP_BYTES (64 << 20)
static void keep_freed_heap(void) {
#ifdef __GLIBC__
  const char *tunables = getenv("GLIBC_TUNABLES");
  if (getenv("MALLOC_TRIM_THRESHOLD_") != NULL || (tunables != NULL && strstr(tunables, "trim_threshold") != NULL)) return;
  mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_BYTES);
#endif
}

NAPI_MODULE_INIT() {
  napi_value avail;
  keep_freed_heap();
#if WHARF_HAVE_SHANI
  shani_available = cpu_has_shani();
#endif
  shani_enabled = shani_available;
  NAPI_CALL(env, napi_get_boolean(env, shani_available != 0, &avail));
  napi_property_descriptor props[] = {
      {"update", NULL, js_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"updateAsync", NULL, js_update_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"digest", NULL, js_digest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setShaNi", NULL, js_set_shani, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shaNiAvailable", NULL, NULL, NULL, NULL, avail, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
