/* Warm switch through the C ABI: three prepared sub-networks (max224, mid192, min128 of a random
 * w1.0 supernet), switched round-robin N times by arch JSON (dynn_supernet_set_subnet), by struct
 * (dynn_supernet_set_subnet_config), and, as the parse's own cost, dynn_subnet_parse alone.
 *
 *   bench_capi_switch [--switches N]
 *
 * Prints median and p99 per call in microseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynn/dynn.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void report(const char* what, double* t, int n) {
  qsort(t, (size_t)n, sizeof(double), cmp);
  printf("| %s | %.2f | %.2f |\n", what, t[n / 2], t[(int)(0.99 * n)]);
}

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != DYNN_OK) {                                         \
      fprintf(stderr, "%s failed: %s\n", #call, dynn_last_error());  \
      return 1;                                                      \
    }                                                                \
  } while (0)

int main(int argc, char** argv) {
  int n = 3000;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--switches") == 0 && i + 1 < argc) {
      n = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_capi_switch [--switches N]\n");
      return 2;
    }
  }
  if (n < 3) n = 3;
  dynn_supernet* net = NULL;
  CHECK(dynn_supernet_create_random(1.0, 1, NULL, &net));
  dynn_subnet cfg[3];
  CHECK(dynn_subnet_uniform(7, 6, 4, 224, &cfg[0]));
  CHECK(dynn_subnet_uniform(5, 4, 3, 192, &cfg[1]));
  CHECK(dynn_subnet_uniform(3, 3, 2, 128, &cfg[2]));
  char json[3][512];
  for (int k = 0; k < 3; ++k) CHECK(dynn_subnet_to_json(&cfg[k], json[k], sizeof json[k], NULL));
  CHECK(dynn_supernet_prepare_configs(net, cfg, 3));

  double* t = malloc(sizeof(double) * (size_t)n);
  if (!t) return 1;
  printf("warm switch through the C ABI, %d calls round-robin over 3 prepared sub-networks\n\n", n);
  printf("| call | median (us) | p99 (us) |\n|---|---|---|\n");
  for (int i = 0; i < n; ++i) {
    double t0 = now_us();
    CHECK(dynn_supernet_set_subnet(net, json[i % 3]));
    t[i] = now_us() - t0;
  }
  report("dynn_supernet_set_subnet (arch JSON)", t, n);
  for (int i = 0; i < n; ++i) {
    double t0 = now_us();
    CHECK(dynn_supernet_set_subnet_config(net, &cfg[i % 3]));
    t[i] = now_us() - t0;
  }
  report("dynn_supernet_set_subnet_config (struct)", t, n);
  for (int i = 0; i < n; ++i) {
    dynn_subnet out;
    double t0 = now_us();
    CHECK(dynn_subnet_parse(json[i % 3], &out));
    t[i] = now_us() - t0;
  }
  report("dynn_subnet_parse alone (no switch)", t, n);
  free(t);
  dynn_supernet_free(net);
  return 0;
}
