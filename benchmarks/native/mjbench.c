/*
 * mjbench: native MuJoCo reference for `prefrl bench envs`.
 *
 * Steps one MJCF model the way a prefrl env does, without observation or reward code:
 * every env step draws a control vector uniformly in the actuator ranges (from a pool of
 * precomputed vectors; [-1, 1] for unlimited actuators), then calls mj_step `frame_skip`
 * times; every `horizon` env steps the episode restarts (mj_resetData + mj_forward).
 * Runs `warmup` seconds untimed, then `seconds` timed, and prints one JSON line:
 *   {"version":"2.2.2","envSteps":N,"seconds":S,"cpuSeconds":C,"stepsPerSec":R}
 * (seconds: wall clock; cpuSeconds: CPU time of this process over the same steps).
 *
 * Usage: mjbench MODEL.xml FRAME_SKIP HORIZON SECONDS [WARMUP] [SEED]
 *        mjbench --version
 * Build: gcc -O2 -o mjbench mjbench.c -lmujoco -lm
 */
#include <mujoco/mujoco.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL 4096

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* xorshift64*: uniform doubles in [0, 1). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform01(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* Run env steps for `seconds` of wall time (checked every 64 steps); returns env steps done. */
static long run(const mjModel* m, mjData* d, const mjtNum* pool, int frame_skip, int horizon, double seconds, long* t,
                double* elapsed) {
  const int nu = m->nu;
  long steps = 0;
  const double start = now_s();
  double end = start;
  for (;;) {
    for (int k = 0; k < 64; k++) {
      const mjtNum* u = pool + (size_t)((steps + k) % POOL) * (size_t)nu;
      if (nu > 0) memcpy(d->ctrl, u, sizeof(mjtNum) * (size_t)nu);
      for (int f = 0; f < frame_skip; f++) mj_step(m, d);
      if (++*t >= horizon) {
        *t = 0;
        mj_resetData(m, d);
        mj_forward(m, d);
      }
    }
    steps += 64;
    end = now_s();
    if (end - start >= seconds) break;
  }
  *elapsed = end - start;
  return steps;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("%s\n", mj_versionString());
    return 0;
  }
  if (argc < 5) {
    fprintf(stderr, "usage: mjbench MODEL.xml FRAME_SKIP HORIZON SECONDS [WARMUP] [SEED]\n");
    return 2;
  }
  const char* path = argv[1];
  const int frame_skip = atoi(argv[2]);
  const int horizon = atoi(argv[3]);
  const double seconds = atof(argv[4]);
  const double warmup = argc > 5 ? atof(argv[5]) : 0.3;
  if (argc > 6) rng_state ^= (uint64_t)strtoull(argv[6], NULL, 10) * 0xBF58476D1CE4E5B9ull;
  if (frame_skip < 1 || horizon < 1 || !(seconds > 0)) {
    fprintf(stderr, "mjbench: FRAME_SKIP and HORIZON must be >= 1 and SECONDS > 0\n");
    return 2;
  }

  char error[1000] = "";
  mjModel* m = mj_loadXML(path, NULL, error, sizeof(error));
  if (!m) {
    fprintf(stderr, "mjbench: could not load %s: %s\n", path, error);
    return 1;
  }
  mjData* d = mj_makeData(m);
  const int nu = m->nu;
  mjtNum* pool = (mjtNum*)malloc(sizeof(mjtNum) * (size_t)POOL * (size_t)(nu > 0 ? nu : 1));
  for (int i = 0; i < POOL; i++) {
    for (int j = 0; j < nu; j++) {
      mjtNum lo = -1, hi = 1;
      if (m->actuator_ctrllimited[j] && m->actuator_ctrlrange[2 * j] < m->actuator_ctrlrange[2 * j + 1]) {
        lo = m->actuator_ctrlrange[2 * j];
        hi = m->actuator_ctrlrange[2 * j + 1];
      }
      pool[(size_t)i * (size_t)nu + (size_t)j] = lo + (hi - lo) * uniform01();
    }
  }
  mj_resetData(m, d);
  mj_forward(m, d);
  long t = 0;
  double elapsed = 0;
  if (warmup > 0) run(m, d, pool, frame_skip, horizon, warmup, &t, &elapsed);
  const double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  const long steps = run(m, d, pool, frame_skip, horizon, seconds, &t, &elapsed);
  const double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  printf("{\"version\":\"%s\",\"envSteps\":%ld,\"seconds\":%.6f,\"cpuSeconds\":%.6f,\"stepsPerSec\":%.3f}\n", mj_versionString(),
         steps, elapsed, cpu, (double)steps / elapsed);
  free(pool);
  mj_deleteData(d);
  mj_deleteModel(m);
  return 0;
}
