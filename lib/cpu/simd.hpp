// Fixed-width float vectors for dynn's own CPU loops (depthwise.cpp, pointwise.cpp), portable
// through the GCC/Clang vector extension, and the ways they are built per ISA:
// - DYNN_CPU_CLONED (depthwise): one source compiled per ISA by target_clones (AVX-512, x86-64-v3
//   = AVX2 + FMA, baseline), the loader picking the widest the CPU has; 16-float vectors are one
//   AVX-512 register, two AVX2 or four NEON/SSE registers. Sanitizer builds skip the clones (their
//   ifunc resolvers run before the sanitizer runtime is up).
// - DYNN_TARGET_AVX512 / DYNN_TARGET_AVX2 (pointwise): functions for one ISA each, in vectors of
//   that ISA's width, chosen at run time.
// Elsewhere (aarch64: NEON) everything is built for the baseline ISA.
//
// Broadcast a float as `s - V{}` written in the loop itself: through a helper function it is
// lowered for the baseline ISA first and comes out as sixteen masked inserts in an AVX-512 clone.
#pragma once

// The helpers are always inlined into the ISA-specific clones; their by-value vector ABI never
// crosses a call.
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define DYNN_CPU_CLONES 1
#define DYNN_CPU_CLONED __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default"), flatten))
#else
#define DYNN_CPU_CLONED
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define DYNN_CPU_X86_TARGETS 1
#define DYNN_TARGET_AVX512 __attribute__((target("avx512f")))
#define DYNN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

// Inlined into the ISA-specific function that calls it, whatever the optimiser's size limits.
#define DYNN_SIMD_INLINE inline __attribute__((always_inline))

namespace dynn::cpu::simd {

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

template <class V>
DYNN_SIMD_INLINE V load(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
DYNN_SIMD_INLINE void store(float* p, V v) {
  __builtin_memcpy(p, &v, sizeof(V));
}
template <class V>
DYNN_SIMD_INLINE V clamp(V v, float lo, float hi) {
  const V l = lo - V{}, h = hi - V{};
  v = v < l ? l : v;
  return v > h ? h : v;
}

// What happens to an accumulated output before it is stored: the clamp, then hardswish
// (x * relu6(x + 3) / 6, PyTorch's formula) when the layer has it, so no second pass reads it.
struct Epilogue {
  float lo, hi;
  bool hardswish;
  template <class V>
  DYNN_SIMD_INLINE V operator()(V v) const {
    v = clamp(v, lo, hi);
    return hardswish ? v * clamp(v + 3.f, 0.f, 6.f) * (1.f / 6.f) : v;
  }
  DYNN_SIMD_INLINE float operator()(float v) const {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    if (!hardswish) return v;
    float t = v + 3.f;
    t = t < 0.f ? 0.f : t;
    t = t > 6.f ? 6.f : t;
    return v * t * (1.f / 6.f);
  }
};

// True when the AVX-512 clone runs: the loops may then keep up to 32 vectors of 16 floats in
// registers (AVX2 has room for 8, NEON for 8, since each takes two or four registers there).
inline bool avx512_clone() {
#ifdef DYNN_CPU_CLONES
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512;
#else
  return false;
#endif
}

}  // namespace dynn::cpu::simd
