/* A tour of dynn's C ABI: errors, a simulated platform's knobs and sensors, a profile of operating
 * points, a controller written in C, and a runtime-managed loop with telemetry. Plain C99; links
 * only libdynn_c. Run: dynn-c-tour [telemetry.csv] */
#include <dynn/dynn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call) do { dynn_status s_ = (call); if (s_ != DYNN_OK) { \
  fprintf(stderr, "%s failed: %s (%s)\n", #call, dynn_status_string(s_), dynn_last_error()); return 1; } } while (0)

/* The controller: the most accurate point whose profiled latency, scaled by what the last
 * inference measured against its profile, fits the target. */
static dynn_status pick(void* user_data, const dynn_observation* obs, dynn_decision* out) {
  const double* profiled_ms = (const double*)user_data;
  double scale = 1.0;
  size_t i;
  if (!isnan(obs->last_latency_ms)) scale = obs->last_latency_ms / profiled_ms[obs->last_point];
  out->point = 0;
  for (i = 0; i < 4; ++i)
    if (profiled_ms[i] * scale <= obs->target_latency_ms) out->point = (int32_t)i;
  return DYNN_OK;
}

int main(int argc, char** argv) {
  static const double profiled_ms[4] = {20, 30, 40, 50};
  dynn_platform* plat = NULL;
  dynn_profile* prof = NULL;
  dynn_controller* ctl = NULL;
  dynn_manager* mgr = NULL;
  dynn_controller_callbacks cb;
  dynn_manager_params mp = dynn_manager_default_params();
  size_t nk = 0, ns = 0, i;
  char name[128], unit[32], allowed[256], summary[512];
  static float input[3 * 224 * 224], logits[1000];
  int step;

  printf("dynn %s\n", dynn_version());
  /* Errors: a status code plus a per-thread message. */
  if (dynn_platform_create_simulated("pdp-11", NULL, &plat) != DYNN_OK) printf("as expected: %s\n", dynn_last_error());

  /* Platform: knobs and sensors with their metadata. */
  CHECK(dynn_platform_create_simulated("xavier-nx", NULL, &plat));
  CHECK(dynn_platform_num_knobs(plat, &nk));
  CHECK(dynn_platform_num_sensors(plat, &ns));
  for (i = 0; i < nk && i < 5; ++i) {
    CHECK(dynn_platform_knob_string(plat, i, DYNN_KNOB_NAME, name, sizeof name, NULL));
    CHECK(dynn_platform_knob_string(plat, i, DYNN_KNOB_UNIT, unit, sizeof unit, NULL));
    CHECK(dynn_platform_knob_string(plat, i, DYNN_KNOB_ALLOWED, allowed, sizeof allowed, NULL));
    printf("knob %-28s %-8s %.60s\n", name, unit, allowed);
  }
  printf("... %zu knobs, %zu sensors\n", nk, ns);

  /* Profile: four operating points on the simulated GPU. */
  CHECK(dynn_profile_create(&prof));
  for (i = 0; i < 4; ++i) {
    dynn_operating_point op;
    char id[8];
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    CHECK(dynn_subnet_uniform(i < 2 ? 3 : 5, 3 + (int)(i % 2), 2, 160 + 16 * (int)i, &op.subnet));
    op.latency_ms = op.latency_p90_ms = profiled_ms[i];
    op.power_w = op.energy_mj = NAN;
    op.accuracy = 0.70 + 0.03 * (double)i;
    op.level = (int32_t)i;
    snprintf(id, sizeof id, "P%zu", i);
    CHECK(dynn_profile_add_point(prof, &op, id, "gpu", NULL));
  }

  /* Controller from C callbacks; the manager keeps its own reference. */
  memset(&cb, 0, sizeof cb);
  cb.struct_size = sizeof cb;
  cb.user_data = (void*)profiled_ms;
  cb.decide = pick;
  CHECK(dynn_controller_create_custom(&cb, "pick", &ctl));

  /* Runtime manager: no supernet on a simulated platform = the simulator stands in for it. */
  mp.targets.latency_ms = 42;
  CHECK(dynn_manager_create(plat, prof, ctl, NULL, &mp, &mgr));
  for (step = 0; step < 20; ++step) {
    dynn_subnet sn;
    dynn_step_result r;
    int32_t point;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    if (step == 10) { /* tighter deadline half way */
      dynn_targets t = dynn_targets_default();
      t.latency_ms = 25;
      CHECK(dynn_manager_set_targets(mgr, &t));
    }
    CHECK(dynn_manager_plan(mgr, &point, &sn));
    CHECK(dynn_manager_infer(mgr, input, 1, 3, sn.r, sn.r, logits, 1000, &r));
    if (step % 5 == 0) printf("step %2d: point %d (r=%d) %.1f ms %s\n", step, r.point, sn.r, r.latency_ms, r.met ? "met" : "MISSED");
  }
  CHECK(dynn_manager_telemetry_summary_string(mgr, summary, sizeof summary, NULL));
  printf("telemetry: %s\n", summary);
  if (argc > 1) CHECK(dynn_manager_telemetry_write(mgr, argv[1], DYNN_TELEMETRY_CSV));
  dynn_manager_free(mgr);
  dynn_controller_free(ctl);
  dynn_profile_free(prof);
  dynn_platform_free(plat);
  return 0;
}
