/* Controllers and the runtime manager through the C ABI. A level-walking controller written in C
 * drives the manager on the simulated Xavier NX: first over toy points (always), then over the
 * Dynamic-OFA levels with the Jetson latency tables and GPU interference (needs DYNN_SHARED_DIR;
 * exit 77 = skipped when it is absent and everything else passed). */
#include "capi_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ---- a controller in C: walk along the points (fastest first) on the measured latency: down
 * when the last inference missed the target, up when the next point's profiled latency, scaled
 * by measured/profiled of the point that ran, fits under the target with 3 % to spare. -------- */
typedef struct walker {
  int level;           /* index of the point in force */
  size_t num_points;
  int max_freq_knob;   /* index of gpu.max_freq among the context's knobs, -1 if absent */
  double latency[64];  /* profiled latency of each point */
  int binds, steps, resets, destroyed;
  dynn_status fail_with;  /* returned by decide when not DYNN_OK */
  int bad_point;          /* decide answers a point that does not exist */
} walker;

static dynn_status walker_bind(void* user_data, const dynn_control_context* ctx) {
  walker* w = (walker*)user_data;
  size_t i;
  w->binds++;
  w->num_points = ctx->num_points;
  w->max_freq_knob = -1;
  for (i = 0; i < ctx->num_knobs; ++i)
    if (strcmp(ctx->knob_names[i], "gpu.max_freq") == 0) w->max_freq_knob = (int)i;
  /* Points must come sorted by latency for this simple walker. */
  for (i = 1; i < ctx->num_points; ++i)
    if (ctx->points[i].latency_ms < ctx->points[i - 1].latency_ms) return DYNN_EINVAL;
  if (ctx->num_points == 0 || ctx->num_points > 64 || ctx->point_ids[0] == NULL) return DYNN_EINVAL;
  for (i = 0; i < ctx->num_points; ++i) w->latency[i] = ctx->points[i].latency_ms;
  w->level = (int)ctx->num_points - 1;
  return DYNN_OK;
}

static dynn_status walker_decide(void* user_data, const dynn_observation* obs, dynn_decision* out) {
  walker* w = (walker*)user_data;
  w->steps++;
  if (w->fail_with != DYNN_OK) return w->fail_with;
  if (w->bad_point) {
    out->point = 1000;
    return DYNN_OK;
  }
  if (!isnan(obs->last_latency_ms) && obs->target_latency_ms > 0) {
    /* Measured / profiled on the point that ran scales the next point's prediction. */
    double scale = obs->last_latency_ms / w->latency[obs->last_point];
    if (obs->last_latency_ms > obs->target_latency_ms && w->level > 0) w->level--;
    else if (w->level + 1 < (int)w->num_points && w->latency[w->level + 1] * scale < 0.97 * obs->target_latency_ms) w->level++;
  }
  out->point = w->level;
  /* Keep the GPU allowed to reach its top frequency (exercises knob requests). */
  if (w->max_freq_knob >= 0 && (size_t)w->max_freq_knob < out->num_knobs) {
    out->knob_values[w->max_freq_knob] = obs->knob_values[w->max_freq_knob];
    out->knob_set[w->max_freq_knob] = 1;
  }
  return DYNN_OK;
}

static void walker_reset(void* user_data) { ((walker*)user_data)->resets++; }
static void walker_destroy(void* user_data) { ((walker*)user_data)->destroyed++; }

static dynn_controller* make_walker(walker* w) {
  dynn_controller_callbacks cb;
  dynn_controller* c = NULL;
  memset(w, 0, sizeof *w);
  memset(&cb, 0, sizeof cb);
  cb.struct_size = sizeof cb;
  cb.user_data = w;
  cb.decide = walker_decide;
  cb.reset = walker_reset;
  cb.destroy = walker_destroy;
  cb.bind = walker_bind;
  EXPECT_OK(dynn_controller_create_custom(&cb, "walker", &c));
  return c;
}

/* ---- logging ---------------------------------------------------------------------------------- */
static char g_log[512];
static int g_log_count = 0;
static void capture_log(int level, const char* message, void* user_data) {
  (void)user_data;
  if (level >= DYNN_LOG_INFO) {
    g_log_count++;
    snprintf(g_log, sizeof g_log, "%s", message);
  }
}

static dynn_profile* toy_profile(void) {
  /* Four points on the simulated GPU, 20..50 ms at the reference clocks, faster = less accurate. */
  static const double lat[4] = {20, 30, 40, 50}, acc[4] = {0.70, 0.73, 0.76, 0.79};
  static const int r[4] = {160, 176, 192, 208};
  dynn_profile* p = NULL;
  char id[8];
  int i;
  EXPECT_OK(dynn_profile_create(&p));
  for (i = 0; p && i < 4; ++i) {
    dynn_operating_point op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    EXPECT_OK(dynn_subnet_uniform(3 + 2 * (i / 2), 3, 2, r[i], &op.subnet));
    op.latency_ms = lat[i];
    op.latency_p90_ms = lat[i];
    op.power_w = NAN;
    op.energy_mj = NAN;
    op.accuracy = acc[i];
    op.level = i;
    op.accuracy_source = DYNN_ACCURACY_PUBLISHED;
    snprintf(id, sizeof id, "T%d", i);
    EXPECT_OK(dynn_profile_add_point(p, &op, id, "gpu", NULL));
  }
  return p;
}

static float g_in[3 * 224 * 224];
static float g_logits[1000];

static void misuse(void) {
  dynn_controller* c = NULL;
  dynn_manager* m = NULL;
  dynn_controller_callbacks cb;
  dynn_targets t = dynn_targets_default();
  dynn_manager_params mp = dynn_manager_default_params();
  dynn_step_result r;
  dynn_telemetry_summary s;
  dynn_operating_point op;
  dynn_subnet sn;
  int32_t point = 0;
  size_t n = 0;
  char buf[64];

  EXPECT(t.struct_size == sizeof(dynn_targets) && t.latency_ms == 0);
  EXPECT(mp.struct_size == sizeof(dynn_manager_params) && mp.prepare_all == 1 && mp.simulate == 1);
  EXPECT_ERR(dynn_controller_create(NULL, NULL, &c), DYNN_EINVAL);
  EXPECT_ERR(dynn_controller_create("pareto", NULL, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_controller_create("oracle", NULL, &c), DYNN_ENOTFOUND);
  EXPECT(strstr(dynn_last_error(), "pareto") != NULL); /* lists the names */
  EXPECT_ERR(dynn_controller_create("pareto", "{\"margn\": 0.1}", &c), DYNN_EINVAL);
  EXPECT(strstr(dynn_last_error(), "margn") != NULL);
  EXPECT_ERR(dynn_controller_create("pareto", "{\"margin\": -5}", &c), DYNN_EINVAL);
  EXPECT_ERR(dynn_controller_create("pareto", "{oops", &c), DYNN_EPARSE);
  EXPECT(c == NULL);
  EXPECT_ERR(dynn_controller_create_custom(NULL, NULL, &c), DYNN_EINVAL);
  memset(&cb, 0, sizeof cb);
  cb.struct_size = sizeof cb;
  EXPECT_ERR(dynn_controller_create_custom(&cb, NULL, &c), DYNN_EINVAL); /* decide is required */
  cb.decide = walker_decide;
  cb.struct_size = sizeof cb + 16;
  EXPECT_ERR(dynn_controller_create_custom(&cb, NULL, &c), DYNN_EINVAL);
  cb.struct_size = sizeof cb;
  EXPECT_ERR(dynn_controller_create_custom(&cb, "", &c), DYNN_EINVAL);
  EXPECT_ERR(dynn_controller_create_custom(&cb, NULL, NULL), DYNN_EINVAL);
  EXPECT(c == NULL);
  EXPECT_ERR(dynn_controller_name(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_controller_state_json(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_controller_reset(NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_controller_list(buf, 2, &n), DYNN_EBUFS);
  EXPECT(n > 20);
  EXPECT_ERR(dynn_controller_list(NULL, 0, NULL), DYNN_EBUFS);
  {
    char names[512];
    EXPECT_OK(dynn_controller_list(names, sizeof names, NULL));
    EXPECT(strstr(names, "dynamic-ofa\n") != NULL && strstr(names, "pareto\n") != NULL);
  }
  dynn_controller_free(NULL);

  EXPECT_ERR(dynn_manager_create(NULL, NULL, NULL, NULL, NULL, &m), DYNN_EINVAL);
  EXPECT(m == NULL);
  EXPECT_ERR(dynn_manager_plan(NULL, &point, &sn), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_infer(NULL, g_in, 1, 3, 160, 160, g_logits, 1000, &r), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_decide(NULL, &point), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_report(NULL, 10, NAN, &r), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_set_targets(NULL, &t), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_get_targets(NULL, &t), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_set_controller(NULL, c), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_num_points(NULL, &n), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_get_point(NULL, 0, &op), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_point_string(NULL, 0, DYNN_POINT_ID, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_telemetry_size(NULL, &n), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_telemetry_summary(NULL, &s), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_telemetry_summary_string(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_telemetry_write(NULL, "/tmp/x.csv", DYNN_TELEMETRY_CSV), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_telemetry_clear(NULL), DYNN_EINVAL);
  dynn_manager_free(NULL);
  EXPECT_ERR(dynn_log_set_level(9), DYNN_EINVAL);
}

/* The C controller on toy points: settles on the most accurate point that meets the target, moves
 * when the target changes; knobs it asked for are restored when the manager goes. */
static void toy_loop(void) {
  dynn_platform* plat = NULL;
  dynn_profile* prof = toy_profile();
  dynn_controller* ctl = NULL;
  dynn_manager* m = NULL;
  dynn_manager_params mp = dynn_manager_default_params();
  dynn_targets t = dynn_targets_default();
  dynn_step_result r;
  dynn_subnet sn;
  dynn_telemetry_summary s;
  walker w;
  int32_t point = -1;
  int i, met_tail = 0;
  size_t n = 0, knob = 0;
  int64_t v0 = 0, v = 0;
  char buf[256];

  EXPECT_OK(dynn_platform_create_simulated("xavier-nx", NULL, &plat));
  ctl = make_walker(&w);
  if (!plat || !prof || !ctl) return;
  EXPECT_OK(dynn_platform_find_knob(plat, "gpu.max_freq", &knob));
  EXPECT_OK(dynn_platform_knob_get(plat, knob, &v0));

  /* Wrong inputs to create. */
  mp.struct_size = 3;
  EXPECT_ERR(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m), DYNN_EINVAL);
  mp = dynn_manager_default_params();
  mp.targets.accuracy = 2;
  EXPECT_ERR(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m), DYNN_EINVAL);
  mp = dynn_manager_default_params();
  mp.knobs = "gpu.max_freq, warp.drive";
  EXPECT_ERR(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m), DYNN_EINVAL);
  mp = dynn_manager_default_params();
  mp.sensors = "flux";
  EXPECT_ERR(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m), DYNN_EINVAL);
  EXPECT(m == NULL);

  dynn_log_set(capture_log, NULL);
  EXPECT_OK(dynn_log_set_level(DYNN_LOG_INFO));
  mp = dynn_manager_default_params();
  mp.app_name = "toy";
  mp.targets.latency_ms = 35;
  mp.sensors = "power.total,temp.GPU-therm";
  EXPECT_OK(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m));
  EXPECT(g_log_count >= 1 && strstr(g_log, "manager 'toy'") != NULL && strstr(g_log, "walker") != NULL);
  dynn_log_set(NULL, NULL);
  EXPECT_OK(dynn_log_set_level(DYNN_LOG_WARN));
  if (!m) goto done;
  EXPECT(w.binds == 1 && w.max_freq_knob >= 0);
  /* The platform and profile handles may go now: the manager holds what it needs. */
  EXPECT_OK(dynn_manager_num_points(m, &n));
  EXPECT(n == 4);

  for (i = 0; i < 30; ++i) {
    EXPECT_OK(dynn_manager_plan(m, &point, &sn));
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    EXPECT_OK(dynn_manager_infer(m, g_in, 1, 3, sn.r, sn.r, g_logits, 1000, &r));
    EXPECT(r.point == point);
    if (i >= 20 && r.met) met_tail++;
  }
  EXPECT(met_tail == 10);
  EXPECT(point == 1); /* 30 ms: the most accurate under 35 ms */
  EXPECT(w.steps == 30);
  EXPECT_OK(dynn_platform_knob_get(plat, knob, &v));
  EXPECT(v == v0);
  /* Wrong input shape for the planned point, too-small logits. */
  EXPECT_OK(dynn_manager_plan(m, &point, &sn));
  EXPECT_ERR(dynn_manager_infer(m, g_in, 1, 3, sn.r + 8, sn.r + 8, g_logits, 1000, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_infer(m, g_in, 1, 3, sn.r, sn.r, g_logits, 10, NULL), DYNN_EBUFS);
  EXPECT_ERR(dynn_manager_infer(m, NULL, 1, 3, sn.r, sn.r, g_logits, 1000, NULL), DYNN_EINVAL);
  r.struct_size = 1;
  EXPECT_ERR(dynn_manager_infer(m, g_in, 1, 3, sn.r, sn.r, g_logits, 1000, &r), DYNN_EINVAL);
  /* A looser target: it climbs to the top. */
  t.latency_ms = 80;
  EXPECT_OK(dynn_manager_set_targets(m, &t));
  t.latency_ms = -1;
  EXPECT_ERR(dynn_manager_set_targets(m, &t), DYNN_EINVAL);
  t.struct_size = 0;
  EXPECT_ERR(dynn_manager_set_targets(m, &t), DYNN_EINVAL);
  memset(&t, 0, sizeof t);
  t.struct_size = sizeof t;
  EXPECT_OK(dynn_manager_get_targets(m, &t));
  EXPECT(t.latency_ms == 80);
  for (i = 0; i < 10; ++i) {
    EXPECT_OK(dynn_manager_plan(m, &point, &sn));
    EXPECT_OK(dynn_manager_infer(m, g_in, 1, 3, sn.r, sn.r, g_logits, 1000, NULL));
  }
  EXPECT(point == 3);
  /* Advisory calls are refused while a plan waits. */
  EXPECT_OK(dynn_manager_plan(m, &point, NULL));
  EXPECT_ERR(dynn_manager_decide(m, &point), DYNN_EBUSY);
  EXPECT_OK(dynn_manager_infer(m, g_in, 1, 3, 208, 208, g_logits, 1000, NULL));

  /* Telemetry. */
  EXPECT_OK(dynn_manager_telemetry_size(m, &n));
  EXPECT(n == 41);
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  EXPECT_OK(dynn_manager_telemetry_summary(m, &s));
  EXPECT(s.count == 41 && s.switches >= 3 && s.mean_latency_ms > 20 && s.mean_energy_mj > 0 && s.mean_power_w > 0);
  EXPECT_OK(dynn_manager_telemetry_summary_string(m, buf, sizeof buf, NULL));
  EXPECT(strlen(buf) > 10);
  EXPECT_ERR(dynn_manager_telemetry_write(m, "/tmp/x", 7), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_telemetry_write(m, "/nonexistent/dir/t.csv", DYNN_TELEMETRY_CSV), DYNN_EIO);
  EXPECT_OK(dynn_manager_point_string(m, 2, DYNN_POINT_ID, buf, sizeof buf, NULL));
  EXPECT(strcmp(buf, "T2") == 0);
  EXPECT_ERR(dynn_manager_point_string(m, 4, DYNN_POINT_ID, buf, sizeof buf, NULL), DYNN_EINVAL);

  /* One manager per controller; swapping in a built-in releases the walker. */
  {
    dynn_manager* m2 = NULL;
    dynn_controller* fixed = NULL;
    EXPECT_ERR(dynn_manager_create(plat, prof, ctl, NULL, NULL, &m2), DYNN_EBUSY);
    EXPECT(m2 == NULL);
    EXPECT_OK(dynn_controller_create("fixed", "{\"point\": \"T0\"}", &fixed));
    EXPECT_OK(dynn_manager_set_controller(m, fixed));
    dynn_controller_free(fixed); /* the manager keeps its own reference */
    EXPECT_OK(dynn_manager_plan(m, &point, &sn));
    EXPECT(point == 0);
    EXPECT_OK(dynn_manager_infer(m, g_in, 1, 3, sn.r, sn.r, g_logits, 1000, NULL));
  }
  EXPECT_OK(dynn_manager_telemetry_clear(m));
  EXPECT_OK(dynn_manager_telemetry_size(m, &n));
  EXPECT(n == 0);
  EXPECT_OK(dynn_controller_reset(ctl));
  EXPECT(w.resets == 1);
  EXPECT(w.destroyed == 0);
  dynn_manager_free(m);
done:
  EXPECT(w.destroyed == 0); /* the handle still holds it */
  dynn_controller_free(ctl);
  EXPECT(w.destroyed == 1);
  dynn_profile_free(prof);
  dynn_platform_free(plat);
}

/* Callback errors reach the caller; advisory mode (decide/report) and its ordering rules. */
static void advisory_and_errors(void) {
  dynn_platform* plat = NULL;
  dynn_profile* prof = toy_profile();
  dynn_controller* ctl = NULL;
  dynn_manager* m = NULL;
  dynn_manager_params mp = dynn_manager_default_params();
  dynn_step_result r;
  walker w;
  int32_t point = -1;

  EXPECT_OK(dynn_platform_create_simulated("odroid-xu3", NULL, &plat));
  ctl = make_walker(&w);
  mp.simulate = 0; /* no model and no simulation: advisory */
  mp.targets.latency_ms = 35;
  EXPECT_OK(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m));
  if (!m) goto done;
  EXPECT_ERR(dynn_manager_infer(m, g_in, 1, 3, 160, 160, g_logits, 1000, NULL), DYNN_EBUSY);
  EXPECT_ERR(dynn_manager_plan(m, &point, NULL), DYNN_EBUSY);
  EXPECT_ERR(dynn_manager_report(m, 10, NAN, NULL), DYNN_EBUSY);
  EXPECT_ERR(dynn_manager_decide(m, NULL), DYNN_EINVAL);
  EXPECT_OK(dynn_manager_decide(m, &point));
  EXPECT(point == 3);
  EXPECT_ERR(dynn_manager_decide(m, &point), DYNN_EBUSY);
  EXPECT_ERR(dynn_manager_report(m, -4, NAN, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_report(m, NAN, NAN, NULL), DYNN_EINVAL);
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  EXPECT_OK(dynn_manager_report(m, 50, 120, &r));
  EXPECT(r.met == 0 && r.point == 3 && r.energy_mj == 120);
  EXPECT_OK(dynn_manager_decide(m, &point));
  EXPECT(point == 2);
  EXPECT_OK(dynn_manager_report(m, 30, NAN, NULL));
  /* decide failing with a status: the manager call returns it. */
  w.fail_with = DYNN_EPERM;
  EXPECT_ERR(dynn_manager_decide(m, &point), DYNN_EPERM);
  EXPECT(strstr(dynn_last_error(), "walker") != NULL);
  w.fail_with = 12345; /* not a dynn_status: internal error */
  EXPECT_ERR(dynn_manager_decide(m, &point), DYNN_ERROR);
  w.fail_with = DYNN_OK;
  w.bad_point = 1;
  EXPECT_ERR(dynn_manager_decide(m, &point), DYNN_EINVAL);
  EXPECT(strstr(dynn_last_error(), "1000") != NULL);
  w.bad_point = 0;
  EXPECT_OK(dynn_manager_decide(m, &point));
  EXPECT_OK(dynn_manager_report(m, 30, NAN, NULL));
  dynn_manager_free(m);
done:
  dynn_controller_free(ctl);
  EXPECT(w.destroyed == 1);
  dynn_profile_free(prof);
  dynn_platform_free(plat);
}

/* A bind callback that rejects the context fails creation, and destroy still runs once. */
static void rejected_bind(void) {
  dynn_platform* plat = NULL;
  dynn_profile* prof = NULL;
  dynn_controller* ctl = NULL;
  dynn_manager* m = NULL;
  dynn_operating_point op;
  walker w;
  EXPECT_OK(dynn_platform_create_simulated("xavier-nx", NULL, &plat));
  EXPECT_OK(dynn_profile_create(&prof));
  memset(&op, 0, sizeof op);
  op.struct_size = sizeof op;
  op.power_w = op.energy_mj = NAN;
  op.level = -1;
  EXPECT_OK(dynn_subnet_uniform(3, 3, 2, 160, &op.subnet));
  op.latency_ms = 30;
  EXPECT_OK(dynn_profile_add_point(prof, &op, "slow", "gpu", NULL));
  op.latency_ms = 10; /* out of latency order: the walker refuses */
  EXPECT_OK(dynn_profile_add_point(prof, &op, "fast", "gpu", NULL));
  ctl = make_walker(&w);
  EXPECT_ERR(dynn_manager_create(plat, prof, ctl, NULL, NULL, &m), DYNN_EINVAL);
  EXPECT(m == NULL && w.binds == 1);
  dynn_controller_free(ctl);
  EXPECT(w.destroyed == 1);
  /* An empty profile is refused before the controller is involved. */
  dynn_profile_free(prof);
  prof = NULL;
  EXPECT_OK(dynn_profile_create(&prof));
  EXPECT_OK(dynn_controller_create("pareto", NULL, &ctl));
  EXPECT_ERR(dynn_manager_create(plat, prof, ctl, NULL, NULL, &m), DYNN_EINVAL);
  dynn_controller_free(ctl);
  dynn_profile_free(prof);
  dynn_platform_free(plat);
}

/* A real (random) supernet computes logits; the simulator times it. */
static void supernet_on_simulator(void) {
  dynn_platform* plat = NULL;
  dynn_profile* prof = NULL;
  dynn_controller* ctl = NULL;
  dynn_supernet* net = NULL;
  dynn_manager* m = NULL;
  dynn_operating_point op;
  dynn_subnet sn;
  dynn_step_result r;
  double t0 = 0, t1 = 0;
  int32_t point = 0;
  size_t i;
  int nonzero = 0;
  EXPECT_OK(dynn_platform_create_simulated("xavier-nx", NULL, &plat));
  EXPECT_OK(dynn_profile_create(&prof));
  EXPECT_OK(dynn_supernet_create_random(1.0, 7, NULL, &net));
  memset(&op, 0, sizeof op);
  op.struct_size = sizeof op;
  op.power_w = op.energy_mj = NAN;
  op.level = -1;
  op.accuracy = 0.7;
  EXPECT_OK(dynn_subnet_uniform(3, 3, 2, 128, &op.subnet));
  op.latency_ms = 25;
  EXPECT_OK(dynn_profile_add_point(prof, &op, "small", "gpu", NULL));
  EXPECT_OK(dynn_controller_create("fixed", NULL, &ctl));
  EXPECT_OK(dynn_manager_create(plat, prof, ctl, net, NULL, &m));
  dynn_supernet_free(net); /* the manager keeps it */
  if (!m) goto done;
  EXPECT_OK(dynn_platform_now(plat, &t0));
  EXPECT_OK(dynn_manager_plan(m, &point, &sn));
  EXPECT(sn.r == 128);
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  for (i = 0; i < 3 * 128 * 128; ++i) g_in[i] = (float)((i % 17) - 8) / 8.0f;
  EXPECT_OK(dynn_manager_infer(m, g_in, 1, 3, 128, 128, g_logits, 1000, &r));
  EXPECT_OK(dynn_platform_now(plat, &t1));
  EXPECT(fabs((t1 - t0) * 1e3 - r.latency_ms) < 1e-6 && r.latency_ms > 20);
  for (i = 0; i < 1000; ++i)
    if (g_logits[i] != 0 && isfinite(g_logits[i])) nonzero++;
  EXPECT(nonzero > 900);
  dynn_manager_free(m);
done:
  dynn_controller_free(ctl);
  dynn_profile_free(prof);
  dynn_platform_free(plat);
}

/* The simulated Xavier NX with the ../shared latency tables, and Dynamic-OFA's six GPU levels as
 * the profile. Returns 0 (after a failed EXPECT) when either could not be made. */
static int xavier_with_levels(dynn_platform** plat, dynn_profile** prof) {
  const char* shared = shared_dir();
  char path[1024], cpu[1024], gpu[1024];
  dynn_sim_params sp = dynn_sim_default_params();
  snprintf(path, sizeof path, "%s/data/dynamic_ofa/nets_6_levels.json", shared);
  snprintf(cpu, sizeof cpu, "%s/data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu", shared);
  snprintf(gpu, sizeof gpu, "%s/data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu", shared);
  EXPECT_OK(dynn_profile_load_levels(path, "gpu", prof));
  sp.cpu_lut_dir = cpu;
  sp.gpu_lut_dir = gpu;
  EXPECT_OK(dynn_platform_create_simulated("xavier-nx", &sp, plat));
  return *prof != NULL && *plat != NULL;
}

/* The C controller over the Dynamic-OFA levels on the simulated Xavier NX, GPU co-runner from
 * t = 3 s: it steps down while the interference lasts and back up after. */
static void dynamic_ofa(void) {
  char out[256];
  dynn_platform* plat = NULL;
  dynn_profile* prof = NULL;
  dynn_controller* ctl = NULL;
  dynn_manager* m = NULL;
  dynn_manager_params mp = dynn_manager_default_params();
  dynn_step_result r;
  dynn_subnet sn;
  dynn_telemetry_summary s;
  walker w;
  int32_t point = 0;
  int i, min_during = 99, top_before = -1, top_after = -1, formats[3] = {DYNN_TELEMETRY_CSV, DYNN_TELEMETRY_JSON, DYNN_TELEMETRY_SVG};
  double now = 0;
  const char* ext[3] = {"csv", "json", "svg"};

  if (shared_missing("Dynamic-OFA part")) return;
  if (!xavier_with_levels(&plat, &prof)) goto done;
  ctl = make_walker(&w);
  mp.targets.latency_ms = 60;
  EXPECT_OK(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m));
  if (!m) goto done;
  EXPECT_OK(dynn_platform_sim_add_interference(plat, DYNN_SIM_GPU, 3.0, 3.0, 0.3, 0));
  for (i = 0; i < 200; ++i) {
    EXPECT_OK(dynn_manager_plan(m, &point, &sn));
    EXPECT_OK(dynn_platform_now(plat, &now));
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    EXPECT_OK(dynn_manager_infer(m, g_in, 1, 3, sn.r, sn.r, g_logits, 1000, &r));
    if (now > 2.0 && now < 3.0 && r.point > top_before) top_before = r.point;
    if (now > 4.0 && now < 6.0 && r.point < min_during) min_during = r.point;
    if (now > 7.5 && r.point > top_after) top_after = r.point;
  }
  printf("Dynamic-OFA levels with a GPU co-runner: level %d before, down to %d during, %d after\n", top_before, min_during,
         top_after);
  EXPECT(top_before >= 4);
  EXPECT(min_during < top_before);
  EXPECT(top_after >= 4);
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  EXPECT_OK(dynn_manager_telemetry_summary(m, &s));
  EXPECT(s.count == 200 && s.within_target > 0.8 && s.switches >= 2);
  for (i = 0; i < 3; ++i) {
    FILE* f;
    long size = 0;
    snprintf(out, sizeof out, "/tmp/dynn_capi_telemetry_%ld.%s", (long)clock(), ext[i]);
    EXPECT_OK(dynn_manager_telemetry_write(m, out, formats[i]));
    f = fopen(out, "rb");
    EXPECT(f != NULL);
    if (f) {
      fseek(f, 0, SEEK_END);
      size = ftell(f);
      fclose(f);
    }
    EXPECT(size > 1000);
    remove(out);
  }
  dynn_manager_free(m);
done:
  dynn_controller_free(ctl);
  dynn_profile_free(prof);
  dynn_platform_free(plat);
}

/* The search below the profile's points: a target under every Dynamic-OFA GPU level on the
 * simulated Xavier NX; the manager builds smaller sub-networks (timed by the latency tables) and
 * gets back on target. */
static void search_below_levels(void) {
  dynn_platform* plat = NULL;
  dynn_profile* prof = NULL;
  dynn_controller* ctl = NULL;
  dynn_manager* m = NULL;
  dynn_manager_params mp = dynn_manager_default_params();
  dynn_search_status st;
  dynn_step_result r;
  dynn_subnet sn;
  int32_t point = 0;
  size_t n = 0;
  int i, met_late = 0;

  if (shared_missing("search part")) return;
  if (!xavier_with_levels(&plat, &prof)) goto done;
  EXPECT_OK(dynn_controller_create("pareto", NULL, &ctl));
  mp.targets.latency_ms = 30; /* the fastest level takes 41 ms */
  mp.knobs = "gpu.freq";
  EXPECT_OK(dynn_manager_create(plat, prof, ctl, NULL, &mp, &m));
  if (!m) goto done;
  EXPECT_ERR(dynn_manager_set_search(NULL, 1, 4), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_set_search(m, 1, 0), DYNN_EINVAL);
  EXPECT_OK(dynn_manager_set_search(m, 1, 4));
  EXPECT_ERR(dynn_manager_search_status(m, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_manager_search_status(NULL, &st), DYNN_EINVAL);
  for (i = 0; i < 300; ++i) {
    EXPECT_OK(dynn_manager_plan(m, &point, &sn));
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    EXPECT_OK(dynn_manager_infer(m, g_in, 1, 3, sn.r, sn.r, g_logits, 1000, &r));
    if (i >= 200) met_late += r.met;
  }
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  EXPECT_OK(dynn_manager_search_status(m, &st));
  EXPECT_OK(dynn_manager_num_points(m, &n));
  printf("search below the levels: %d searches, %d sub-networks, %d points (%d profiled online); %d of the last 100 steps on target\n",
         st.searches, st.subnets_added, st.points_added, st.points_profiled, met_late);
  EXPECT(st.searches >= 1 && st.subnets_added >= 1 && st.subnets_added <= 4);
  EXPECT(n == 6 + (size_t)st.points_added);
  EXPECT(met_late >= 95);
  dynn_manager_free(m);
done:
  dynn_controller_free(ctl);
  dynn_profile_free(prof);
  dynn_platform_free(plat);
}

int main(void) {
  misuse();
  toy_loop();
  advisory_and_errors();
  rejected_bind();
  supernet_on_simulator();
  dynamic_ofa();
  search_below_levels();
  return test_result();
}
